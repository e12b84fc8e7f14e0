import { env, envInt, onShutdown, reportReady } from '../../lib/ipc';
import { Sidecar } from './sidecar';
import { parsePathNormalization } from '../path-normalization';
import { tokenFileReader } from '../../lib/cp-auth';
import { parseTracingConfig } from '../telemetry/proxy-config';

/** The sidecar process: configured by environment (MESH_*), or late by the launcher over IPC (the app's port). */
async function main(): Promise<void> {
  const role = env('MESH_ROLE', 'sidecar') === 'gateway' ? 'gateway' : 'sidecar';
  const sidecar = new Sidecar({
    role,
    service: env('MESH_SERVICE'),
    version: env('MESH_VERSION', 'v1'),
    instance: env('MESH_INSTANCE'),
    namespace: process.env.POD_NAMESPACE || undefined,
    // Istio's ingress gateway pods carry istio: ingressgateway, which Gateways select.
    labels: JSON.parse(env('MESH_LABELS', role === 'gateway' ? '{"istio":"ingressgateway","app":"istio-ingressgateway"}' : '{}')) as Record<string, string>,
    host: env('MESH_HOST', '127.0.0.1'),
    advertiseHost: process.env.MESH_ADVERTISE_HOST || undefined,
    ports: { inbound: envInt('MESH_INBOUND_PORT', 15006), outbound: envInt('MESH_OUTBOUND_PORT', 15001), admin: envInt('MESH_ADMIN_PORT', 15000) },
    controlPlaneUrl: env('MESH_CP_URL'),
    appPort: process.env.MESH_APP_PORT ? envInt('MESH_APP_PORT') : undefined,
    mtls: process.env.MESH_MTLS !== 'off',
    pathNormalization: parsePathNormalization(process.env.MESH_PATH_NORMALIZATION, 'MESH_PATH_NORMALIZATION'),
    token: tokenFileReader(process.env.MESH_TOKEN_FILE),
    tracing: parseTracingConfig(process.env),
    httpsPort: role === 'gateway' && process.env.MESH_HTTPS_PORT ? envInt('MESH_HTTPS_PORT') : undefined,
    credentialsDir: process.env.MESH_CREDENTIALS_DIR || undefined,
    holdUntilOpen: process.env.MESH_GATEWAY_HOLD === '1',
    tcpCaptures: parseTcpCaptures(process.env.MESH_TCP_CAPTURE),
    appTcpPorts: process.env.MESH_APP_TCP_PORTS ? (JSON.parse(process.env.MESH_APP_TCP_PORTS) as Record<number, number>) : undefined,
  });
  await sidecar.start();
  process.on('message', (msg: { type?: string; port?: number }) => {
    if (msg?.type === 'app' && typeof msg.port === 'number') sidecar.setAppPort(msg.port);
    if (msg?.type === 'open') {
      sidecar.gate.openGate();
      process.send?.({ type: 'opened' });
    }
  });
  onShutdown(() => sidecar.stop());
  reportReady(`${role} ${sidecar.config.instance}`, { ...sidecar.ports, ...sidecar.tcpPorts });
}

/** MESH_TCP_CAPTURE: JSON `[{"service": "rabbitmq", "port": 5672}]`, the TCP destinations this sidecar carries for its app. */
function parseTcpCaptures(text: string | undefined): { service: string; port: number; address?: string }[] | undefined {
  if (!text) return undefined;
  const v = JSON.parse(text) as unknown;
  if (!Array.isArray(v) || v.some((c) => typeof c?.service !== 'string' || !Number.isInteger(c?.port))) throw new Error(`MESH_TCP_CAPTURE must be [{"service": "rabbitmq", "port": 5672}, …], got ${text}`);
  return v as { service: string; port: number; address?: string }[];
}

main().catch((err) => {
  console.error(`sidecar failed to start: ${(err as Error).stack}`);
  process.exit(1);
});
