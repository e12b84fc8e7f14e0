import fs from 'node:fs';
import path from 'node:path';
import { WORKLOAD_TOKEN_TTL_MS, forgetOperatorToken, newSecret, signWorkloadToken, storeOperatorToken, writeSecretFile } from '../lib/cp-auth';
import { parseDuration } from '../mesh/config/duration';

/**
 * The launcher's half of control-plane access (lib/cp-auth.ts): it creates the token-signing key and
 * the operator token (0600 files in a 0700 `secrets/` folder beside the data dir, read by the control
 * plane at start), writes each sidecar's workload token to its own 0600 file before starting it, and
 * rewrites every token at half its life, as the kubelet refreshes projected service-account tokens.
 */
export class WorldCredentials {
  readonly dir: string;
  readonly keyFile: string;
  readonly operatorFile: string;
  readonly ttlMs: number;
  private readonly key = newSecret();
  readonly operatorToken = newSecret();
  private readonly nodes = new Map<string, { service: string; role: 'sidecar' | 'gateway' }>();
  private timer?: NodeJS.Timeout;
  private storedFor?: string;

  constructor(dataDir: string, ttl = process.env.MESH_TOKEN_TTL) {
    this.dir = path.join(path.dirname(dataDir), 'secrets');
    this.keyFile = path.join(this.dir, 'token-key');
    this.operatorFile = path.join(this.dir, 'operator-token');
    this.ttlMs = ttl ? parseDuration(ttl) : WORKLOAD_TOKEN_TTL_MS;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.dir, 0o700);
    writeSecretFile(this.keyFile, this.key);
    writeSecretFile(this.operatorFile, this.operatorToken);
  }

  /** The control plane's environment: where its secrets are. */
  controlPlaneEnv(): Record<string, string> {
    return { CP_TOKEN_KEY_FILE: this.keyFile, CP_OPERATOR_TOKEN_FILE: this.operatorFile };
  }

  tokenFile(node: string): string {
    return path.join(this.dir, 'tokens', `${node}.token`);
  }

  /** Writes a fresh workload token for `node` (before its sidecar starts); returns the file to give it as MESH_TOKEN_FILE. */
  issue(node: string, service: string, role: 'sidecar' | 'gateway'): string {
    this.nodes.set(node, { service, role });
    this.write(node);
    if (!this.timer) {
      this.timer = setInterval(() => {
        for (const n of this.nodes.keys()) this.write(n);
      }, Math.max(100, this.ttlMs / 2));
      this.timer.unref();
    }
    return this.tokenFile(node);
  }

  private write(node: string): void {
    const n = this.nodes.get(node)!;
    writeSecretFile(this.tokenFile(node), signWorkloadToken(this.key, { node, service: n.service, role: n.role, exp: Date.now() + this.ttlMs }));
  }

  /** Stores the operator token where clients look it up by control-plane address (~/.meshlab/credentials). */
  storeOperator(controlPlaneUrl: string): void {
    if (this.storedFor === controlPlaneUrl) return;
    storeOperatorToken(controlPlaneUrl, this.operatorToken);
    this.storedFor = controlPlaneUrl;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.storedFor) forgetOperatorToken(this.storedFor);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
