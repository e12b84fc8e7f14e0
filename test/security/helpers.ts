import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MeshCA } from '../../mesh/security/ca';
import { WorkloadCertManager } from '../../mesh/security/workload-cert';
import { spiffeId } from '../../mesh/security/identity';

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `meshlab-sec-${tag}-`));
}

/** A started cert manager for `service` signed in-process by `ca`. */
export async function workloadCerts(
  ca: MeshCA,
  service: string,
  ttlMs = 3_600_000,
  seed = 1,
): Promise<WorkloadCertManager> {
  const identity = spiffeId(service);
  const m = new WorkloadCertManager({
    identity,
    seed,
    sign: async (csrPem) => ({ ...(await ca.signCsr(csrPem, { identity, ttlMs })), rootPem: ca.rootPem }),
  });
  await m.start();
  return m;
}
