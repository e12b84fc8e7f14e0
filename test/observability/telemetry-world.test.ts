import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { DEFAULT_TOPOLOGY, type Topology } from '../../world/topology';
import { eventually, json } from '../support/http';
import type { ZipkinSpan } from '../../mesh/telemetry/zipkin';

/** gateway → payments is all the test needs: one payments instance, fewer processes on a busy machine. */
const ONE_PAYMENTS: Topology = { ...DEFAULT_TOPOLOGY, services: DEFAULT_TOPOLOGY.services.map((s) => (s.name === 'payments' ? { ...s, versions: { v1: 1 } } : s)) };

const telemetry = (name: string, namespace: string, spec: string): { name: string; text: string } => ({
  name: `${name}.yaml`,
  text: `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}\n`,
});

/**
 * The Telemetry API in a running world, read back from a real Zipkin: N requests gateway → payments under
 * three configs, each counted per workload. The proxies' own sampling is Istio's default 1%, so every figure
 * here is the Telemetry resources' doing.
 */
describe('Telemetry resources decide which spans reach the real Zipkin', () => {
  const N = 20;
  const dir = tempWorldDir('meshlab-telemetry-');
  let world: World;

  beforeAll(async () => {
    world = await World.start({ topology: ONE_PAYMENTS, dataDir: `${dir}/data`, logDir: `${dir}/logs`, chaosPort: false, observability: {}, tracing: { sampling: 1 }, env: { MESH_SEED: '11' } });
  }, 240_000);

  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const admin = (who: 'gateway' | 'payments', p: string) => json(`http://127.0.0.1:${who === 'gateway' ? world.gateway.ports.admin : world.instances.get('payments-v1-0')!.sidecar.ports.admin}${p}`);

  async function send(phase: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const id = `telemetry-${phase}-${i}-${Date.now()}`;
      const res = await json(`${world.gatewayUrl}/api/payments/validate?amount=1`, { headers: { 'x-request-id': id, 'x-user': `user-${i}` } });
      expect(res.status).toBe(200);
      ids.push(id);
    }
    return ids;
  }

  /** Zipkin's spans tagged with one request id (every hop carries the caller's x-request-id). */
  async function spansOf(id: string): Promise<ZipkinSpan[]> {
    const found = (await json(`${world.zipkinUrl}/api/v2/traces?annotationQuery=${encodeURIComponent(`guid:x-request-id=${id}`)}&limit=10&lookback=600000`)).body as ZipkinSpan[][];
    return found.flat().filter((s) => s.tags?.['guid:x-request-id'] === id);
  }
  const count = (spans: ZipkinSpan[], service: string): number => spans.filter((s) => s.localEndpoint.serviceName.startsWith(service)).length;

  test(`0% mesh-wide gives 0 of ${N}; 100% mesh-wide with payments' own Telemetry off gives ${N} gateway spans and 0 payments spans (and no payments access log); 100% alone gives ${2 * N} with the custom tags`, async () => {
    // A: mesh-wide 0%.
    await world.applyConfig([telemetry('mesh-default', 'istio-system', 'tracing:\n- randomSamplingPercentage: 0')]);
    const a = await send('a');
    const gwTraces = (await admin('gateway', '/traces?limit=2000')).body as { attributes: Record<string, string>; sampled: boolean }[];
    expect(gwTraces.filter((s) => a.includes(s.attributes['guid:x-request-id'])).map((s) => s.sampled)).toEqual(Array(N).fill(false));

    // B: mesh-wide 100%; payments (by selector) reports no spans and writes no access log.
    await world.applyConfig([
      telemetry('mesh-default', 'istio-system', 'tracing:\n- randomSamplingPercentage: 100'),
      telemetry('payments', 'default', 'selector: { matchLabels: { app: payments } }\ntracing:\n- disableSpanReporting: true\naccessLogging:\n- disabled: true'),
    ]);
    expect(((await admin('payments', '/tracing')).body as { telemetry: { applied: string[] } }).telemetry.applied).toEqual(['istio-system/mesh-default', 'default/payments']);
    expect(((await admin('gateway', '/tracing')).body as { telemetry: { applied: string[] } }).telemetry.applied).toEqual(['istio-system/mesh-default']);
    const b = await send('b');
    const paymentsLog = (await admin('payments', '/access_log?limit=5000')).body as { x_request_id: string }[];
    const gatewayLog = (await admin('gateway', '/access_log?limit=5000')).body as { x_request_id: string }[];
    expect([gatewayLog.filter((e) => b.includes(e.x_request_id)).length, paymentsLog.filter((e) => b.includes(e.x_request_id)).length]).toEqual([N, 0]);

    // C: payments' Telemetry gone; mesh-wide 100% with a literal and a header tag.
    await world.deleteConfig([{ kind: 'Telemetry', name: 'payments' }]);
    await world.applyConfig([telemetry('mesh-default', 'istio-system', 'tracing:\n- randomSamplingPercentage: 100\n  customTags:\n    lab: { literal: { value: telemetry-world } }\n    user: { header: { name: x-user, defaultValue: nobody } }')]);
    const c = await send('c');
    // Reports leave each proxy in order: once C's spans are in Zipkin, A's and B's would be too.
    const cSpans = await eventually(`${2 * N} spans of phase C in Zipkin`, async () => {
      const all = (await Promise.all(c.map(spansOf))).flat();
      return all.length >= 2 * N ? all : undefined;
    }, 30_000, 250);
    expect([count(cSpans, 'istio-ingressgateway'), count(cSpans, 'payments')]).toEqual([N, N]);
    expect(cSpans.every((s) => s.tags.lab === 'telemetry-world')).toBe(true);
    expect(new Set(cSpans.map((s) => s.tags.user))).toEqual(new Set(c.map((_, i) => `user-${i}`)));

    const aSpans = (await Promise.all(a.map(spansOf))).flat();
    const bSpans = (await Promise.all(b.map(spansOf))).flat();
    expect(aSpans).toHaveLength(0);
    expect([count(bSpans, 'istio-ingressgateway'), count(bSpans, 'payments')]).toEqual([N, 0]);
  }, 120_000);
});
