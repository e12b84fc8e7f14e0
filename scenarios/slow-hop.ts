import { defineScenario } from './runner/scenario';
import type { ScenarioContext } from './runner/context';
import { ORDER, PAYMENTS } from './runner/fixtures';
import type { ZipkinSpan } from '../mesh/telemetry/zipkin';

/** The instance whose payments turns slow, and how slow. */
const CULPRIT = 'payments-v1-1';
const SLOW_MS = 300;

/** The instance a span was recorded by: Istio's node_id tag, `sidecar~IP~INSTANCE.NAMESPACE~…`. */
export function instanceOf(span: ZipkinSpan): string {
  const node = span.tags.node_id ?? '';
  return node.split('~')[2]?.replace(/\.default$/, '') ?? 'unknown';
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * An operator names a culprit only when one instance stands out: its p50 at least STANDS_OUT_MS above, and twice,
 * every other instance's. Without a slow instance (the control arm) none does, and the answer is 'none' — not
 * whichever healthy instance happened to be a millisecond slower.
 */
const STANDS_OUT_MS = 100;
export function standsOut(p50ByInstance: Record<string, number>): string {
  const [top, next] = Object.entries(p50ByInstance).sort((a, b) => b[1] - a[1]);
  if (!top) return 'none';
  const second = next?.[1] ?? 0;
  return top[1] - second >= STANDS_OUT_MS && top[1] >= 2 * second ? top[0] : 'none';
}

/** A trace's length: its longest span. */
const traceDuration = (spans: ZipkinSpan[]): number => Math.max(...spans.map((s) => s.duration));

/**
 * From Zipkin's traces, the way an operator reads them: the payments SERVER spans (the hop into payments, as
 * each payments sidecar recorded it: node_id says which instance), their median duration by instance; the
 * culprit is the instance whose spans are slowest. Also, for the report, in the slowest tenth of the traces
 * (Zipkin's "longest first") which span had the most time of its own — on a loaded machine that can be a
 * caller's queueing rather than the slow instance, which is why the verdict uses the per-instance spans.
 */
export function slowestFromTraces(traces: ZipkinSpan[][]): { culprit: string; selfTimeWins: Record<string, number>; serverP50: Record<string, number>; traces: number } {
  const wins: Record<string, number> = {};
  const server: Record<string, number[]> = {};
  for (const spans of traces) for (const s of spans) if (s.kind === 'SERVER' && s.localEndpoint.serviceName.startsWith('payments-')) (server[instanceOf(s)] ??= []).push(s.duration / 1000);
  const slowest = [...traces].sort((a, b) => traceDuration(b) - traceDuration(a)).slice(0, Math.max(5, Math.ceil(traces.length / 10)));
  for (const spans of slowest) {
    // A shared SERVER half and its CLIENT half have one id; children name that id as parent.
    const childrenOf = new Map<string, ZipkinSpan[]>();
    for (const s of spans) if (s.parentId) (childrenOf.get(s.parentId) ?? childrenOf.set(s.parentId, []).get(s.parentId)!).push(s);
    let best: { span: ZipkinSpan; self: number } | undefined;
    for (const s of spans) {
      // The CLIENT half's child is its own SERVER half (same id); the SERVER half's children are its app's calls.
      const below = s.kind === 'CLIENT' ? spans.filter((x) => x.id === s.id && x.kind === 'SERVER') : (childrenOf.get(s.id) ?? []).filter((c) => c.kind === 'CLIENT');
      const self = s.duration - below.reduce((sum, c) => sum + c.duration, 0);
      if (!best || self > best.self) best = { span: s, self };
    }
    if (best) wins[instanceOf(best.span)] = (wins[instanceOf(best.span)] ?? 0) + 1;
  }
  const serverP50: Record<string, number> = {};
  for (const [k, v] of Object.entries(server)) serverP50[k] = median(v);
  return { culprit: standsOut(serverP50), selfTimeWins: wins, serverP50, traces: traces.length };
}

async function promQuery(base: string, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`Prometheus rejected ${query}: ${body.error}`);
  return body.data!.result;
}

/** Prometheus' own view of the payments scrape targets (health, last error, last scrape): why a p50 is missing. */
async function payTargets(base: string): Promise<string> {
  try {
    const body = (await (await fetch(`${base}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string; lastScrape: string; lastScrapeDuration: number }[] } };
    const rows = body.data.activeTargets.filter((t) => (t.labels.pod ?? '').startsWith('payments-'));
    return rows.length ? rows.map((t) => `${t.labels.pod} ${t.health}${t.lastError ? ` (${t.lastError})` : ''} last ${t.lastScrape} in ${Math.round(t.lastScrapeDuration * 1000)} ms`).join('; ') : 'none';
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

function backends(ctx: ScenarioContext): { zipkin: string; prometheus: string } {
  const o = ctx.world.state().observability;
  if (!o?.zipkinUrl || !o.prometheusUrl) throw new Error('slow-hop reads a real Zipkin and Prometheus: run it on its own world (npm run scenario slow-hop) or against `npm start -- --observability`');
  return { zipkin: o.zipkinUrl, prometheus: o.prometheusUrl };
}

/** One payments instance turns slow; the operator finds it from the traces in Zipkin and from Prometheus' histograms, and both name it. */
export default defineScenario({
  name: 'slow-hop',
  title: `one payments instance turns slow (+${SLOW_MS} ms): Zipkin's traces and Prometheus' p50 by instance both name it`,
  teaches: [
    'Traces say where requests spent their time (the payments spans, and which instance\'s proxy recorded them);',
    'metrics say the same for all requests (histogram_quantile over istio_request_duration_milliseconds_bucket by pod).',
    'Read from the real backends the mesh exports to, they must agree on the culprit.',
  ],
  observability: true,
  control: {
    removes: `no slow instance (${CULPRIT} left healthy)`,
    shows: 'with no slow instance neither Zipkin nor Prometheus names a culprit: no instance stands out',
    fails: ['the slow instance, from the traces', `${CULPRIT}'s payments span p50 in Zipkin`, 'the slow instance, from Prometheus', `${CULPRIT}'s p50 in Prometheus`, 'Zipkin and Prometheus agree on the culprit'],
  },
  async run(ctx) {
    const { zipkin, prometheus } = backends(ctx);
    const since = Date.now();
    if (ctx.control) ctx.mark(`control arm: ${CULPRIT} left healthy`);
    else await ctx.lab(CULPRIT).sick({ latency_ms: SLOW_MS });
    const samples = await ctx.load('orders', { path: '/orders', body: ORDER, rps: 20, count: ctx.pick(240, 120), concurrency: 16 });
    if (!ctx.control) await ctx.lab(CULPRIT).heal();
    const window = Math.ceil((Date.now() - since) / 1000) + 5;
    ctx.expectEqual(`orders confirmed (201), of ${samples.length}`, samples.filter((s) => s.status === 201).length, samples.length);

    // Zipkin: every trace through orders in the lab's window (sampling is 100% in labs), once the sidecars' reports arrived.
    const url = `${zipkin}/api/v2/traces?serviceName=orders-v1&lookback=${window * 1000}&endTs=${Date.now() + 5000}&limit=${samples.length * 3}`;
    const traces = await ctx.waitFor(async () => {
      const list = (await (await fetch(url)).json()) as ZipkinSpan[][];
      const complete = list.filter((t) => t.some((s) => s.kind === 'SERVER' && s.localEndpoint.serviceName.startsWith('payments-')));
      return complete.length >= samples.length ? complete : undefined;
    }, 15_000);
    ctx.expectAtLeast('order traces in Zipkin with their payments span', traces?.length ?? 0, samples.length);
    const fromTraces = slowestFromTraces(traces ?? []);
    ctx.opts.log(`  Zipkin: the span with the most own time, by instance: ${JSON.stringify(fromTraces.selfTimeWins)}; payments SERVER p50 by instance (ms): ${JSON.stringify(fromTraces.serverP50)}`);

    // Prometheus: the destination sidecars' histograms, by the pod they were scraped from.
    // The range reaches back to before the load at each try: waiting for Zipkin (and for scrapes) must not slide it past the load.
    const query = (): string => `histogram_quantile(0.5, sum by (pod, le) (increase(istio_request_duration_milliseconds_bucket{reporter="destination", destination_service_name="payments"}[${Math.ceil((Date.now() - since) / 1000) + 5}s])))`;
    let q = query();
    const byPod = await ctx.waitFor(async () => {
      q = query();
      const rows = await promQuery(prometheus, q);
      const p50: Record<string, number> = {};
      for (const r of rows) if (Number.isFinite(Number(r.value[1]))) p50[r.metric.pod] = Number(r.value[1]);
      return PAYMENTS.every((id) => id in p50) ? p50 : undefined;
    }, 30_000); // scrapes every 1 s, but on a loaded machine (CI's labs run two worlds at once) some are late or time out
    ctx.opts.log(`  Prometheus: ${q}\n  → ${JSON.stringify(byPod)}`);
    if (!byPod) ctx.opts.log(`  Prometheus' payments targets: ${await payTargets(prometheus)}`);
    const promCulprit = standsOut(byPod ?? {});

    ctx.expectEqual(`the slow instance, from the traces (the payments spans' p50 by instance, standing out by ≥ ${STANDS_OUT_MS} ms and 2×)`, fromTraces.culprit, CULPRIT);
    ctx.expectAtLeast(`${CULPRIT}'s payments span p50 in Zipkin`, fromTraces.serverP50[CULPRIT] ?? 0, SLOW_MS, ' ms');
    for (const id of PAYMENTS.filter((p) => p !== CULPRIT)) ctx.expectAtMost(`${id}'s payments span p50 in Zipkin (healthy)`, fromTraces.serverP50[id] ?? Infinity, SLOW_MS / 3, ' ms');
    ctx.expectEqual(`the slow instance, from Prometheus (p50 by pod, standing out by ≥ ${STANDS_OUT_MS} ms and 2×)`, promCulprit, CULPRIT);
    ctx.expectAtLeast(`${CULPRIT}'s p50 in Prometheus`, byPod?.[CULPRIT] ?? 0, SLOW_MS * 0.9, ' ms');
    ctx.check('Zipkin and Prometheus agree on the culprit', CULPRIT, `${fromTraces.culprit} / ${promCulprit}`, fromTraces.culprit === promCulprit && promCulprit === CULPRIT);
  },
});
