import { env, envInt, onShutdown, reportReady } from '../../lib/ipc';
import { startControlPlane } from './server';
import { parseDuration } from '../config/duration';

async function main(): Promise<void> {
  const cp = await startControlPlane({ host: env('MESH_HOST', '127.0.0.1'), port: envInt('CP_PORT', 15010), dataDir: process.env.CP_DATA_DIR, services: env('MESH_SERVICES', '').split(',').filter(Boolean), configDir: process.env.CP_CONFIG_DIR || undefined, certTtlMs: process.env.MESH_CERT_TTL ? parseDuration(process.env.MESH_CERT_TTL) : undefined });
  onShutdown(() => cp.close());
  reportReady('control-plane', { http: cp.port });
}

main().catch((err) => {
  console.error(`control plane failed to start: ${(err as Error).message}`);
  process.exit(1);
});
