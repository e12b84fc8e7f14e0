import { startChaosServer } from '../chaos/server';
import { env, envInt, onShutdown, reportReady } from '../lib/ipc';

/** The world's chaos server process: the Toxiproxy-compatible API (8474 by default) the launcher registers edge proxies on. */
async function main(): Promise<void> {
  const server = await startChaosServer({ host: env('MESH_HOST', '127.0.0.1'), port: envInt('CHAOS_PORT', 8474), seed: process.env.MESH_SEED ? Number(process.env.MESH_SEED) : undefined, log: (line) => process.stdout.write(`${line}\n`) });
  onShutdown(() => server.close());
  reportReady('chaos', { http: server.port });
}

main().catch((err) => {
  console.error(`chaos server failed to start: ${(err as Error).message}`);
  process.exit(1);
});
