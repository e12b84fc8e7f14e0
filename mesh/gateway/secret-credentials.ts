/**
 * A Kubernetes Secret given with the config (`meshlab apply -f`), as Istio's gateway reads one for
 * `credentialName`: `type: kubernetes.io/tls` (or Opaque) with `tls.crt` and `tls.key` (and `ca.crt` for
 * MUTUAL), in `data` (base64) or `stringData`. The control plane writes it as the credential folder the
 * gateway reads (mesh/gateway/credentials.ts): `<credentials dir>/<name>/tls.crt|tls.key|ca.crt`. Istio reads
 * credentials from the gateway's namespace; meshlab's gateway runs in `default`, so only those are written.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../config/types';

export const GATEWAY_NAMESPACE = 'default';

function field(raw: Record<string, unknown>, key: string): string | undefined {
  const data = raw.data as Record<string, unknown> | undefined;
  const plain = raw.stringData as Record<string, unknown> | undefined;
  if (plain && typeof plain[key] === 'string') return plain[key] as string;
  if (data && typeof data[key] === 'string') return Buffer.from(data[key] as string, 'base64').toString('utf8');
  return undefined;
}

/** What a Secret holds for a gateway credential, or why it holds none. */
export function tlsSecret(o: KubeObject): { cert: string; key: string; ca?: string } | { reason: string } {
  const cert = field(o.raw, 'tls.crt');
  const key = field(o.raw, 'tls.key');
  const ca = field(o.raw, 'ca.crt');
  if (cert && key) return { cert, key, ...(ca ? { ca } : {}) };
  return { reason: 'no tls.crt and tls.key: not a gateway credential' };
}

/** Writes the Secret as credential folder `name` under `dir`; returns what was done, for apply's report. */
export function writeSecretCredential(dir: string, o: KubeObject): string {
  const ns = o.metadata.namespace ?? GATEWAY_NAMESPACE;
  if (ns !== GATEWAY_NAMESPACE) return `not a credential of the gateway's namespace (${GATEWAY_NAMESPACE}); the gateway reads credentialName there`;
  const s = tlsSecret(o);
  if ('reason' in s) return s.reason;
  const out = path.join(dir, o.metadata.name);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'tls.key'), s.key, { mode: 0o600 });
  fs.writeFileSync(path.join(out, 'tls.crt'), s.cert);
  if (s.ca) fs.writeFileSync(path.join(out, 'ca.crt'), s.ca);
  else fs.rmSync(path.join(out, 'ca.crt'), { force: true });
  return `written as the gateway credential ${o.metadata.name} (Gateway tls.credentialName)`;
}
