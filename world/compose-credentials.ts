/**
 * The compose world's `credentials` service: the launcher's half of control-plane access (lib/cp-auth.ts,
 * world/credentials.ts) for containers, as the kubelet projects service-account tokens into pods. It keeps the
 * token-signing key and the operator token (created once, kept across restarts) and writes one short-lived
 * workload token per sidecar and the gateway, rewriting each at half its life. Every secret is a 0600 file owned
 * by the image's unprivileged user in its own named volume, and compose mounts each volume only where it belongs:
 *
 *   cp-secrets       token-key, operator-token     → control-plane (read-only)
 *   operator-secret  operator-token                → chaos-init (read-only); the host reads it with `docker compose exec`
 *   token-<node>     token                         → that node's sidecar (or the gateway) only (read-only)
 *
 * So a sidecar holds its own token and nothing else, as in `npm start`; a container that was given none has
 * nothing to show the control plane.
 */
import fs from 'node:fs';
import path from 'node:path';
import { newSecret, signWorkloadToken, WORKLOAD_TOKEN_TTL_MS, writeSecretFile } from '../lib/cp-auth';
import { parseDuration } from '../mesh/config/duration';
import { GATEWAY_SERVICE, podsOf } from './compose-layout';
import { DEFAULT_TOPOLOGY, type Topology } from './topology';

/** Where the issuer writes (each folder a volume) and where the other containers find their part. */
export const SECRETS = {
  /** The issuer's root; `controlPlane`, `operator` and `nodes/<node>` below it are the volumes. */
  issuerRoot: '/secrets',
  /** Where a consumer mounts its volume. */
  mount: '/var/run/secrets/meshlab',
  /** Written after the first round: the issuer's health check. */
  issued: '.issued',
} as const;

export const SECRET_VOLUMES = { controlPlane: 'cp-secrets', operator: 'operator-secret', node: (node: string): string => `token-${node}` } as const;

/** Every node that gets a workload token: each pod's sidecar (node id = instance id) and the gateway. */
export function credentialNodes(topology: Topology = DEFAULT_TOPOLOGY): { node: string; service: string; role: 'sidecar' | 'gateway' }[] {
  return [...podsOf(topology).map((p) => ({ node: p.spec.id, service: p.spec.service.name, role: 'sidecar' as const })), { node: 'gateway', service: GATEWAY_SERVICE, role: 'gateway' as const }];
}

export interface IssueOptions {
  topology?: Topology;
  ttlMs?: number;
  /** uid:gid the files and their folders are given (the image's `node` user); unset: the issuer's own. */
  owner?: { uid: number; gid: number };
  now?: number;
}

function readOrCreate(file: string): string {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    if (v) return v;
  } catch {
    // first start: created below
  }
  const v = newSecret();
  writeSecretFile(file, v);
  return v;
}

/** Writes (or keeps) the key and operator token and writes a fresh token for every node. Returns the operator token. */
export function issueCredentials(root: string, opts: IssueOptions = {}): string {
  const ttlMs = opts.ttlMs ?? WORKLOAD_TOKEN_TTL_MS;
  const now = opts.now ?? Date.now();
  const written: string[] = [];
  const cpDir = path.join(root, 'control-plane');
  const key = readOrCreate(path.join(cpDir, 'token-key'));
  const operator = readOrCreate(path.join(cpDir, 'operator-token'));
  written.push(path.join(cpDir, 'token-key'), path.join(cpDir, 'operator-token'));
  const operatorFile = path.join(root, 'operator', 'operator-token');
  writeSecretFile(operatorFile, operator);
  written.push(operatorFile);
  for (const n of credentialNodes(opts.topology)) {
    const file = path.join(root, 'nodes', n.node, 'token');
    writeSecretFile(file, signWorkloadToken(key, { node: n.node, service: n.service, role: n.role, exp: now + ttlMs }));
    written.push(file);
  }
  for (const file of written) {
    fs.chmodSync(file, 0o600);
    fs.chmodSync(path.dirname(file), 0o700);
    if (opts.owner) {
      fs.chownSync(file, opts.owner.uid, opts.owner.gid);
      fs.chownSync(path.dirname(file), opts.owner.uid, opts.owner.gid);
    }
  }
  return operator;
}

function parseOwner(v: string | undefined): { uid: number; gid: number } | undefined {
  if (!v) return undefined;
  const m = /^(\d+):(\d+)$/.exec(v);
  if (!m) throw new Error(`MESH_SECRETS_OWNER must be uid:gid (e.g. 1000:1000), got "${v}"`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

function main(): void {
  const root = process.env.MESH_SECRETS_DIR ?? SECRETS.issuerRoot;
  const ttlMs = process.env.MESH_TOKEN_TTL ? parseDuration(process.env.MESH_TOKEN_TTL) : WORKLOAD_TOKEN_TTL_MS;
  const owner = parseOwner(process.env.MESH_SECRETS_OWNER);
  const round = (): void => {
    issueCredentials(root, { ttlMs, owner });
  };
  round();
  fs.writeFileSync(path.join(root, SECRETS.issued), new Date().toISOString());
  console.log(`credentials: key and operator token in place, ${credentialNodes().length} workload tokens written (life ${ttlMs / 1000} s, rewritten every ${ttlMs / 2000} s)`);
  setInterval(() => {
    try {
      round();
    } catch (err) {
      console.error(`credentials: rewriting the tokens failed: ${(err as Error).message}`);
    }
  }, Math.max(1000, ttlMs / 2));
  // PID 1 in its container: without handlers Node would ignore SIGTERM and wait for the SIGKILL.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`credentials failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
