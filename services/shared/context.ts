import { env, envInt } from '../../lib/ipc';

/** What every service process is told by its launcher (environment), and nothing about the network but its own sidecar. */
export interface ServiceContext {
  name: string;
  version: string;
  instance: string;
  host: string;
  port: number;
  labPort: number;
  dataDir: string;
  /** The sidecar's outbound listener: the app's only way to reach a peer. */
  outboundUrl: string;
  bus: { kind: 'memory' | 'kafka' | 'rabbitmq'; url: string };
}

export function contextFromEnv(): ServiceContext {
  const kind = env('BUS_KIND', 'memory');
  if (kind !== 'memory' && kind !== 'kafka' && kind !== 'rabbitmq') throw new Error(`BUS_KIND must be memory, kafka or rabbitmq, got "${kind}"`);
  return {
    name: env('SERVICE_NAME'),
    version: env('SERVICE_VERSION', 'v1'),
    instance: env('INSTANCE_ID'),
    host: env('HOST', '127.0.0.1'),
    port: envInt('PORT', 8000),
    labPort: envInt('LAB_PORT', 9901),
    dataDir: env('DATA_DIR', '.meshlab/data'),
    outboundUrl: env('MESH_OUTBOUND_URL', 'http://127.0.0.1:15001'),
    bus: { kind, url: env('BUS_URL', '') },
  };
}
