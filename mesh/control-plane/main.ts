import { env, envInt, onShutdown, reportReady } from '../../lib/ipc';
import { startControlPlane } from './server';
import { parseDuration } from '../config/duration';
import fs from 'node:fs';

/** The launcher's secrets (lib/cp-auth.ts), read from their 0600 files; none = an open control plane. */
function authFromEnv(): { tokenKey: string; operatorToken: string } | undefined {
  const keyFile = process.env.CP_TOKEN_KEY_FILE;
  const operatorFile = process.env.CP_OPERATOR_TOKEN_FILE;
  if (!keyFile && !operatorFile) return undefined;
  if (!keyFile || !operatorFile) throw new Error('CP_TOKEN_KEY_FILE and CP_OPERATOR_TOKEN_FILE go together');
  return { tokenKey: fs.readFileSync(keyFile, 'utf8').trim(), operatorToken: fs.readFileSync(operatorFile, 'utf8').trim() };
}

async function main(): Promise<void> {
  const cp = await startControlPlane({ host: env('MESH_HOST', '127.0.0.1'), port: envInt('CP_PORT', 15010), dataDir: process.env.CP_DATA_DIR, services: env('MESH_SERVICES', '').split(',').filter(Boolean), configDir: process.env.CP_CONFIG_DIR || undefined, credentialsDir: process.env.CP_CREDENTIALS_DIR || undefined, certTtlMs: process.env.MESH_CERT_TTL ? parseDuration(process.env.MESH_CERT_TTL) : undefined, auth: authFromEnv() });
  onShutdown(() => cp.close());
  reportReady('control-plane', { http: cp.port });
}

main().catch((err) => {
  console.error(`control plane failed to start: ${(err as Error).message}`);
  process.exit(1);
});
