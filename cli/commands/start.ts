import path from 'node:path';
import { World, type BusOption } from '../../world/world';
import { DEFAULT_STATE_FILE, type WorldState } from '../../world/state';
import { table } from '../../lib/table';
import { flag, intFlag, parseArgs } from '../args';

export const START_HELP = `meshlab start [--port 8080] [--https-port 8443] [--cp-port 15010] [--chaos-port 8474|off] [--data-dir .meshlab/data] [--bus memory|kafka|rabbitmq] [--bus-url URL]
              [--observability] [--zipkin-port 9411] [--prometheus-port 9090] [--sampling 1] [--no-externals]
  Starts the whole world on 127.0.0.1 (no Docker) and keeps it running until Ctrl-C.
  --observability also runs a real Zipkin (every sidecar and the gateway export spans to it) and a real
  Prometheus scraping every sidecar, the gateway and every app; --sampling is Istio's tracing percentage
  (default 1, 100 with --observability).
  The world's external mail provider (api.mail.example, outside the mesh) runs too and is registered with a
  ServiceEntry and a TLS-originating DestinationRule; --no-externals leaves it out.`;

/** `meshlab start`: brings the world up, prints every process and its URL, stops cleanly on Ctrl-C. */
export async function startCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['observability', 'no-externals']);
  const externals = flag(args, 'no-externals') !== 'true';
  const busKind = flag(args, 'bus', process.env.MESHLAB_BUS ?? 'memory')!;
  if (!['memory', 'kafka', 'rabbitmq'].includes(busKind)) throw new Error(`--bus must be memory, kafka or rabbitmq, got "${busKind}"`);
  const bus: BusOption = { kind: busKind as BusOption['kind'], url: flag(args, 'bus-url') ?? (busKind === 'kafka' ? '127.0.0.1:9092' : busKind === 'rabbitmq' ? 'amqp://guest:guest@127.0.0.1:5672' : undefined) };
  const dataDir = path.resolve(flag(args, 'data-dir', path.join('.meshlab', 'data'))!);
  const observability = flag(args, 'observability') === 'true';
  const samplingRaw = flag(args, 'sampling');
  const sampling = samplingRaw === undefined ? (observability ? 100 : undefined) : Number(samplingRaw);
  if (sampling !== undefined && !(Number.isFinite(sampling) && sampling >= 0 && sampling <= 100)) throw new Error(`--sampling must be a percentage from 0 to 100, got "${samplingRaw}"`);
  console.log('meshlab: starting the world on 127.0.0.1 …');
  const world = await World.start({
    gatewayPort: intFlag(args, 'port', 8080),
    gatewayHttpsPort: intFlag(args, 'https-port', 8443),
    controlPlanePort: intFlag(args, 'cp-port', 15010),
    chaosPort: flag(args, 'chaos-port') === 'off' ? false : intFlag(args, 'chaos-port', 8474),
    dataDir,
    stateFile: DEFAULT_STATE_FILE,
    bus,
    ...(observability ? { observability: { zipkinPort: intFlag(args, 'zipkin-port', 9411), prometheusPort: intFlag(args, 'prometheus-port', 9090) } } : {}),
    ...(sampling !== undefined ? { tracing: { sampling } } : {}),
    externals,
    onProgress: (m) => console.log(`  ${m}`),
  });
  await world.registerExternals();
  await world.serveInstanceControl();
  console.log(`\n${describeWorld(world.state())}\n`);
  console.log(`ready in ${(world.readyMs / 1000).toFixed(2)} s — place an order:\n  curl -s -XPOST ${world.gatewayUrl}/orders -H 'content-type: application/json' -d '{"user_id":"u-1","items":[{"sku":"SKU-1","qty":2,"unit_price":9.99}]}'\nHTTPS (config/default/gateway.yaml), verified with the gateway's CA:\n  curl -s --cacert ${world.gatewayCaFile} ${world.gatewayHttpsUrl}/notifications\nCtrl-C stops everything.`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('\nmeshlab: stopping …');
  await world.stop();
  console.log('meshlab: stopped; every process exited and its ports are free.');
  return 0;
}

/** The process table `npm start` prints. */
export function describeWorld(s: WorldState): string {
  const url = (port?: number): string => (port ? `http://${s.host}:${port}` : '');
  const rows: (string | number)[][] = [];
  for (const p of s.processes) {
    if (p.role === 'app' || p.role === 'sidecar') continue;
    const main = p.role === 'gateway' ? url(p.ports.outbound) : url(p.ports.http);
    const extra = p.name === 'zipkin' ? `traces UI ${main}/zipkin/` : p.name === 'prometheus' ? `targets ${main}/targets` : p.role === 'control-plane' ? `dashboard ${main}/` : p.role === 'gateway' ? `admin ${url(p.ports.admin)}` : p.role === 'broker' ? `${s.bus.kind} bus` : p.role === 'chaos' ? 'Toxiproxy API: one proxy per edge' : p.role === 'external' ? `api.mail.example (outside the mesh): tls :${p.ports.tls}, lab control and log ${url(p.ports.control)}/lab/log` : '';
    rows.push([p.name, p.role, '', '', p.pid, main, extra]);
  }
  if (s.bus.kind !== 'memory') rows.push([s.bus.kind, 'broker', '', '', '-', s.bus.url, 'external broker']);
  for (const i of s.instances) {
    rows.push([i.id, 'app', i.service, i.version, i.app.pid, url(i.app.ports.http), `lab ${url(i.app.ports.lab)}`]);
    rows.push([`${i.id}-sidecar`, 'sidecar', i.service, i.version, i.sidecar.pid, `in ${url(i.sidecar.ports.inbound)}`, `out :${i.sidecar.ports.outbound}  admin :${i.sidecar.ports.admin}`]);
  }
  return table(['NAME', 'ROLE', 'SERVICE', 'VERSION', 'PID', 'URL', 'ALSO'], rows);
}
