/**
 * Who may talk to the control plane, and how they prove it — the lab's version of Kubernetes'
 * projected service-account tokens and a kubeconfig:
 *
 * - **Workload (bootstrap) tokens.** The launcher signs one short-lived token per sidecar
 *   (HMAC-SHA256 with a key only it and the control plane read) naming the node and its service,
 *   and writes it to a 0600 file the sidecar reads on every use; it rewrites the file at half the
 *   token's life, as the kubelet refreshes a projected token. The control plane accepts a
 *   discovery stream, an ACK, a readiness report or a CSR only with a token naming that node, and
 *   signs a certificate only for the service the token names.
 * - **Operator token.** A random secret the launcher creates; the config API, edge registration
 *   and the launcher's dashboard wiring need it. Clients find it by control-plane address in the
 *   per-user credential store `~/.meshlab/credentials/` (directory 0700, files 0600), or in
 *   $MESHLAB_OPERATOR_TOKEN.
 *
 * Token format: base64url(JSON claims) "." base64url(HMAC-SHA256(key, that first part)).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface WorkloadClaims {
  /** The node id the token is for (`payments-v1-0`, `gateway`). */
  node: string;
  /** The service (and so the SPIFFE id) the node may claim. */
  service: string;
  role: 'sidecar' | 'gateway';
  /** Expiry, ms since the epoch. */
  exp: number;
}

/** A workload token's default life (Kubernetes' default for projected tokens is 1 h). */
export const WORKLOAD_TOKEN_TTL_MS = 3600_000;

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes a secret file readable by its owner only (0600), atomically, creating a 0700 directory. */
export function writeSecretFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export function signWorkloadToken(key: string, claims: WorkloadClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

export type Verified<T> = { ok: true; claims: T } | { ok: false; error: string };

export function verifyWorkloadToken(key: string, token: string, now = Date.now()): Verified<WorkloadClaims> {
  const [body, mac, extra] = token.split('.');
  if (!body || !mac || extra !== undefined) return { ok: false, error: 'the bearer token is not a meshlab workload token (<claims>.<signature>)' };
  const expected = createHmac('sha256', key).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, error: 'the workload token\'s signature does not verify: it was not issued by this mesh\'s launcher' };
  let claims: WorkloadClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as WorkloadClaims;
  } catch {
    return { ok: false, error: 'the workload token\'s claims are not JSON' };
  }
  if (typeof claims.node !== 'string' || typeof claims.service !== 'string' || typeof claims.exp !== 'number') return { ok: false, error: 'the workload token lacks node, service or exp' };
  if (claims.exp <= now) return { ok: false, error: `the workload token of ${claims.node} expired at ${new Date(claims.exp).toISOString()}; the launcher refreshes it at half its life` };
  return { ok: true, claims };
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `Authorization: Bearer <token>` → the token, or undefined. */
export function bearer(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  const m = v ? /^Bearer\s+(\S+)\s*$/i.exec(v) : null;
  return m ? m[1] : undefined;
}

/** The per-user credential store (~/.meshlab/credentials, or $MESHLAB_HOME/credentials). */
export function credentialsDir(): string {
  return path.join(process.env.MESHLAB_HOME || path.join(os.homedir(), '.meshlab'), 'credentials');
}

function credentialFile(controlPlaneUrl: string): string {
  const u = new URL(controlPlaneUrl);
  return path.join(credentialsDir(), `${u.hostname.replace(/[^A-Za-z0-9.-]/g, '_')}_${u.port || '80'}.operator-token`);
}

/** Stores the operator token of the control plane at `controlPlaneUrl` (0600). */
export function storeOperatorToken(controlPlaneUrl: string, token: string): string {
  const file = credentialFile(controlPlaneUrl);
  writeSecretFile(file, `${token}\n`);
  return file;
}

export function forgetOperatorToken(controlPlaneUrl: string): void {
  fs.rmSync(credentialFile(controlPlaneUrl), { force: true });
}

/** The operator token for a control plane: $MESHLAB_OPERATOR_TOKEN, else the credential store; undefined if none. */
export function operatorToken(controlPlaneUrl: string): string | undefined {
  if (process.env.MESHLAB_OPERATOR_TOKEN) return process.env.MESHLAB_OPERATOR_TOKEN;
  try {
    return fs.readFileSync(credentialFile(controlPlaneUrl), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Headers carrying the operator token for `controlPlaneUrl` (none if no token is known: an open control plane still answers). */
export function operatorHeaders(controlPlaneUrl: string): Record<string, string> {
  const t = operatorToken(controlPlaneUrl);
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** A workload token read from its file at each use (the launcher rewrites it before it expires). */
export function tokenFileReader(file: string | undefined): () => string | undefined {
  if (!file) return () => undefined;
  return () => {
    try {
      return fs.readFileSync(file, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  };
}
