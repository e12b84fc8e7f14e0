import { defineScenario } from './runner/scenario';
import { hasFlag } from './runner/flags';
import { ORDER, PAYMENTS, paymentsDestinationRule, paymentsVirtualService } from './runner/fixtures';
import type { AccessLogEntry } from '../mesh/access-log';
import { percentile } from './runner/load';
import { RECONCILE_CONCURRENCY } from '../services/orders/reconciler';

const CLUSTER = 'outbound|80||payments.default.svc.cluster.local';
/**
 * The pool is orders' whole budget towards payments, and orders' reconciler shares it: from ~5 s after an order
 * failed it charges the orders the hang left PENDING, RECONCILE_CONCURRENCY at a time — inside the recovery
 * window. A pool of exactly that size (3 + 1, as this lab had) is full for the length of each catch-up pass and
 * refuses the live orders that arrive meanwhile with 503 UO, as Envoy's would: 1–3% of the orders after recovery.
 * So the pool leaves room for live orders beside the catch-up.
 */
const MAX_CONNECTIONS = RECONCILE_CONCURRENCY + 2;
const MAX_PENDING = 1;
// A timed-out call closes its upstream connection (as Envoy resets the stream); the next needs a new
// mTLS handshake, which a loaded machine can make slower than a very short timeout.
const TIMEOUT_MS = 1000;

/**
 * The most payments calls that were waiting at one instant, from the caller's access log. Start
 * times are whole milliseconds (up to 1 ms early), so each call counts from 1 ms after its logged
 * start: the count can only be under, never over, the truth.
 */
function mostWaitingAtOnce(calls: readonly AccessLogEntry[]): number {
  const edges: [number, number][] = [];
  for (const e of calls) {
    const start = Date.parse(e.start_time) + 1;
    const end = Date.parse(e.start_time) + e.duration_ms;
    if (end > start) edges.push([start, 1], [end, -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

/** The calls in flight at wall-clock `t` (ms), by whether the reconciler made them (no order request behind them). */
function inFlightAt(calls: readonly AccessLogEntry[], t: number, live: ReadonlySet<string>): { live: number; reconciler: number } {
  const at = { live: 0, reconciler: 0 };
  for (const e of calls) {
    const start = Date.parse(e.start_time);
    if (start <= t && start + e.duration_ms > t && !hasFlag(e, 'UO')) at[live.has(e.request_id) ? 'live' : 'reconciler']++;
  }
  return at;
}

/**
 * Recovery as orders' sidecar logged it: each order it received (inbound /orders) from `fromWall` on, with its
 * payments call (same request id). A pool refuses when it is full, and it fills with live calls too when the
 * machine stalls (a loaded CI host): a refusal with all `slots` taken is the pool doing its job. Any other order
 * not confirmed — a refusal with a free slot (one a hung call never gave back), a failure on a connection the hang
 * left half-dead — is unexplained. The in-flight count at a refusal takes every call overlapping its logged
 * millisecond (start times are whole ms): it can only over-count.
 */
export function recoveryOf(log: readonly AccessLogEntry[], cluster: string, fromWall: number, slots: number): { received: number; confirmed: number; refusedFull: number; unexplained: string[]; refusals: { at: number; live: number; reconciler: number }[] } {
  const live = new Set(log.filter((e) => e.direction === 'inbound' && e.path === '/orders').map((e) => e.request_id));
  const calls = log.filter((e) => e.direction === 'outbound' && e.upstream_cluster === cluster);
  const callOf = new Map(calls.map((e) => [e.request_id, e]));
  const received = log.filter((e) => e.direction === 'inbound' && e.path === '/orders' && Date.parse(e.start_time) >= fromWall);
  const out = { received: received.length, confirmed: 0, refusedFull: 0, unexplained: [] as string[], refusals: [] as { at: number; live: number; reconciler: number }[] };
  for (const o of received) {
    if (o.response_code === 201) {
      out.confirmed++;
      continue;
    }
    const call = callOf.get(o.request_id);
    const at = call && hasFlag(call, 'UO') ? { at: Date.parse(call.start_time), ...inFlightAt(calls, Date.parse(call.start_time), live) } : undefined;
    if (at) out.refusals.push(at);
    if (at && at.live + at.reconciler >= slots) out.refusedFull++;
    else out.unexplained.push(`${o.response_code} (payments call: ${call ? `${call.response_code} ${call.response_flags} ${call.response_code_details}, ${at ? `${at.live + at.reconciler} of ${slots} slots taken` : `${Math.round(call.duration_ms)} ms`}` : 'none'})`);
  }
  return out;
}

/** A hanging dependency, with and without the policies that stop a cascade. */
export default defineScenario({
  name: 'cascade',
  title: 'payments hangs: without policies orders collapses; with a timeout + connection pool it fails fast and recovers. Side by side.',
  teaches: [
    'A dependency that hangs is worse than one that fails: callers pile up waiting. A route timeout bounds each wait;',
    `a connection pool (maxConnections ${MAX_CONNECTIONS}, http1MaxPendingRequests ${MAX_PENDING}) caps how many calls can be stuck at once and answers the`,
    'rest at once with 503 UO, so orders answers fast 503s and confirms again the moment payments is back.',
  ],
  control: {
    removes: 'the second arm runs without the timeout and the connection pool too',
    shows: 'without the timeout and pool the second arm collapses like the first: no UO, every call waits',
    fails: ['with policies: p99 latency', 'with policies: share answered within', 'with policies: payments calls refused by the pool', 'with policies: payments calls admitted while payments hangs'],
  },
  async run(ctx) {
    const phaseMs = ctx.pick(5000, 3000);
    const recoveryMs = 3000;
    // 40 orders/s × 1 s ≈ 40 calls waiting at once: the timeout alone would allow them all; the pool allows MAX_CONNECTIONS + MAX_PENDING.
    const rps = 40;
    const load = { path: '/orders', body: ORDER, rps, durationMs: phaseMs, concurrency: 400 };

    for (const id of PAYMENTS) await ctx.lab(id).sick({ hang: true });
    const stop = { stopped: false };
    const without = ctx.load('without policies', load, stop);
    await new Promise((r) => setTimeout(r, phaseMs + 1000));
    // Hung requests stay hung until payments comes back: release them so the run can end.
    for (const id of PAYMENTS) await ctx.lab(id).heal();
    const a = await without;
    // Let the pile-up clear (the released calls answered, their orders back to the reconciler) before the second arm.
    const cleared = await ctx.waitFor(async () => ((await ctx.clusters('orders-v1-0')).find((c) => c.name === CLUSTER)?.hosts.every((h) => h.active === 0) ? true : undefined), 20000);
    ctx.mark(cleared ? 'the pile-up has cleared: no payments call in flight at orders' : 'payments calls still in flight at orders after 20 s');

    await ctx.applyPolicy(
      paymentsDestinationRule(`connectionPool:
  tcp:
    maxConnections: ${MAX_CONNECTIONS}
  http:
    http1MaxPendingRequests: ${MAX_PENDING}`),
      `connectionPool: maxConnections ${MAX_CONNECTIONS}, http1MaxPendingRequests ${MAX_PENDING}`,
    );
    await ctx.applyPolicy(
      paymentsVirtualService(`- route:
  - destination: {host: payments}
  timeout: ${TIMEOUT_MS}ms
  retries:
    attempts: 0`),
      `route timeout ${TIMEOUT_MS}ms, no retries`,
    );
    for (const id of PAYMENTS) await ctx.lab(id).sick({ hang: true });
    const since = Date.now();
    const hangStart = ctx.now();
    const second = ctx.load(ctx.control ? 'control: still without policies' : 'with timeout + pool', { ...load, durationMs: phaseMs + recoveryMs });
    await new Promise((r) => setTimeout(r, phaseMs));
    for (const id of PAYMENTS) await ctx.lab(id).heal();
    const healedAt = ctx.now();
    const b = await second;

    const duringHang = b.filter((s) => s.t >= hangStart && s.t < healedAt);
    const answeredWithin = (s: typeof a, ms: number): number => (100 * s.filter((x) => x.status > 0 && x.latencyMs <= ms).length) / Math.max(1, s.length);
    ctx.expectAtLeast(`without policies: p50 latency (${a.length} orders) — collapsed`, ctx.latency(a, 50), 2 * TIMEOUT_MS, ' ms');
    ctx.expectAtMost(`with policies: p99 latency while payments hangs (${duringHang.length} orders)`, ctx.latency(duringHang, 99), TIMEOUT_MS + 500, ' ms');
    ctx.expectEqual(`with policies: share answered within ${(TIMEOUT_MS + 1000) / 1000} s`, answeredWithin(duringHang, TIMEOUT_MS + 1000), 100);

    // The pool itself, from the orders sidecar's records: calls refused at once (503 UO), and how many waited at once.
    const calls = (await ctx.accessLog('orders-v1-0')).filter((e) => e.direction === 'outbound' && e.upstream_cluster === CLUSTER && Date.parse(e.start_time) >= since && ctx.at(e.start_time) < healedAt);
    const uo = calls.filter((e) => e.response_code === 503 && hasFlag(e, 'UO'));
    ctx.expectAtLeast(`with policies: payments calls refused by the pool (503 UO) of ${calls.length}`, (100 * uo.length) / Math.max(1, calls.length), 30, '%');
    // Each admitted call holds its slot until the timeout: at most (hang / timeout + 1) × (maxConnections + pending) get one.
    const hangMs = healedAt - hangStart;
    const admitted = calls.filter((e) => !hasFlag(e, 'UO')).length;
    const slots = (Math.ceil(hangMs / TIMEOUT_MS) + 1) * (MAX_CONNECTIONS + MAX_PENDING);
    ctx.expectAtMost(`with policies: payments calls admitted while payments hangs ${Math.round(hangMs)} ms (the rest refused; the timeout alone admits all)`, admitted, slots);
    ctx.mark(`most payments calls waiting at once (orders' access log): ${mostWaitingAtOnce(calls)}`);
    ctx.expectAtMost('with policies: p99 duration of a refused call (UO answers without waiting)', percentile(uo.map((e) => e.duration_ms), 99), 20, ' ms');

    // Recovery: a call admitted just before payments came back still hangs (healing changes new requests only) and
    // holds its pool slot until its route timeout, so the pool may refuse for up to TIMEOUT_MS after recovery, as
    // Envoy's does. Orders sent after that (and a 100 ms margin for the reconnect) are confirmed.
    const graceMs = TIMEOUT_MS + 100;
    const afterHeal = b.filter((s) => s.t >= healedAt + graceMs);
    const healWall = ctx.wallStart + healedAt;
    const log = await ctx.accessLog('orders-v1-0');
    const flagsAfter = new Map<string, number>();
    for (const e of log.filter((x) => x.direction === 'outbound' && x.upstream_cluster === CLUSTER && Date.parse(x.start_time) >= healWall)) {
      const k = `${e.response_code} ${e.response_flags}`;
      flagsAfter.set(k, (flagsAfter.get(k) ?? 0) + 1);
    }
    ctx.mark(`payments calls after recovery (code flags): ${[...flagsAfter].map(([k, v]) => `${v}× ${k}`).join(', ')}`);
    const full = MAX_CONNECTIONS + MAX_PENDING;
    const rec = recoveryOf(log, CLUSTER, healWall + graceMs, full);
    for (const r of rec.refusals) ctx.mark(`refused by the pool (UO): in flight ${r.live} live + ${r.reconciler} reconciler calls of ${full} slots`, ctx.at(r.at));
    const failedAfter = new Map<number, number>();
    for (const x of afterHeal.filter((s) => s.status !== 201)) failedAfter.set(x.status, (failedAfter.get(x.status) ?? 0) + 1);
    ctx.mark(`orders confirmed from ${graceMs / 1000} s after payments recovered, as the client saw them: ${((100 * afterHeal.filter((s) => s.status === 201).length) / Math.max(1, afterHeal.length)).toFixed(1)}% of ${afterHeal.length} (not confirmed: ${[...failedAfter].map(([k, v]) => `${v}× ${k}`).join(', ') || 'none'})`);
    ctx.expectAtLeast(
      `with policies: orders confirmed from ${graceMs / 1000} s after payments recovered, of those the pool had room for (${rec.received} received, ${rec.refusedFull} refused by a full pool; otherwise not confirmed: ${rec.unexplained.join(', ') || 'none'})`,
      (100 * rec.confirmed) / Math.max(1, rec.received - rec.refusedFull),
      99,
      '%',
    );
    const firstOk = b.find((s) => s.t >= healedAt && s.status === 201);
    ctx.check('with policies: first order confirmed after recovery', 'within 300 ms of payments recovering', firstOk ? `${Math.round(firstOk.t - healedAt)} ms` : 'none', !!firstOk && firstOk.t - healedAt <= 300);
    ctx.check('side by side: p99 without vs with', 'with < without / 2', `${Math.round(ctx.latency(a, 99))} ms vs ${Math.round(ctx.latency(duringHang, 99))} ms`, ctx.latency(duringHang, 99) * 2 < ctx.latency(a, 99));
  },
});
