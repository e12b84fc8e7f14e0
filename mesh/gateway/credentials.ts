/**
 * Where the gateway's TLS credentials come from, as Istio's gateway reads them: `credentialName` names a
 * credential (Istio: a Kubernetes Secret `tls.crt`/`tls.key`, `ca.crt` for MUTUAL, or a separate
 * `NAME-cacert`), here a folder `<credentials dir>/NAME/` holding those files (`meshlab certs create HOST`
 * writes one); `serverCertificate`/`privateKey`/`caCertificates` are file paths (Istio's file-mounted form).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GatewayTls } from './compile';

export interface TlsCredential {
  cert: string;
  key: string;
  /** Client CAs for MUTUAL. */
  ca?: string;
}

function read(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

function readIf(file: string): string | undefined {
  return fs.existsSync(file) ? read(file) : undefined;
}

export function loadCredential(tls: GatewayTls, dir: string | undefined): TlsCredential {
  if (tls.credentialName) {
    if (!dir) throw new Error(`credentialName ${tls.credentialName}: the gateway has no credentials folder (MESH_CREDENTIALS_DIR)`);
    const base = path.join(dir, tls.credentialName);
    if (!fs.existsSync(path.join(base, 'tls.crt'))) throw new Error(`credentialName ${tls.credentialName}: no ${path.join(base, 'tls.crt')} (create it with: meshlab certs create HOST --name ${tls.credentialName})`);
    const ca = readIf(path.join(base, 'ca.crt')) ?? readIf(path.join(dir, `${tls.credentialName}-cacert`, 'ca.crt'));
    return { cert: read(path.join(base, 'tls.crt')), key: read(path.join(base, 'tls.key')), ...(ca ? { ca } : {}) };
  }
  return { cert: read(tls.serverCertificate!), key: read(tls.privateKey!), ...(tls.caCertificates ? { ca: read(tls.caCertificates) } : {}) };
}
