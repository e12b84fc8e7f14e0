import { defineScenario } from './runner/scenario';
import { ORDER, paymentsDestinationRule } from './runner/fixtures';
import { ejectionOf } from './circuit-breaker';
import { DEFAULT_TOPOLOGY, instancesOf } from '../world/topology';

const PAYMENTS_CLUSTER = 'outbound|80||payments.default.svc.cluster.local';
/** The default world's zones (world/topology.ts): orders and payments-v1-0 in zone-a, payments-v1-1 and payments-v2-0 in zone-b. */
const ZONE_OF = new Map(instancesOf(DEFAULT_TOPOLOGY).map((i) => [i.id, i.locality.split('/')[1] ?? '']));
const ZONE_A = instancesOf(DEFAULT_TOPOLOGY).filter((i) => i.service.name === 'payments' && ZONE_OF.get(i.id) === 'zone-a').map((i) => i.id);

/** Percent of `calls` that went to `zone` (NaN-free: 0 calls → 0). */
function shareIn(calls: readonly { instance: string }[], zone: string): number {
  return calls.length === 0 ? 0 : (100 * calls.filter((c) => ZONE_OF.get(c.instance) === zone).length) / calls.length;
}

/**
 * Locality failover (Istio's localityLbSetting with outlier detection, Envoy's priority levels):
 * orders' calls stay in orders' zone while it is healthy, fail over to the other zone once zone-a's
 * payments are ejected, and come back when they return.
 */
export default defineScenario({
  name: 'locality-failover',
  title: "zone-a's payments turn sick: ejected, calls fail over to zone-b; healed, they come back to zone-a",
  teaches: [
    "localityLbSetting (on by default in Istio's mesh config) gives the caller's zone priority 0, the other zones of its",
    'region priority 1, other regions 2 — but only for a DestinationRule with outlierDetection. Envoy sends a priority',
    'min(100%, 1.4 × its healthy share): the local zone keeps all traffic until < 71.4% of it is healthy.',
  ],
  control: {
    removes: 'no outlierDetection (localityLbSetting kept: Istio then sends no priorities)',
    shows: 'without outlierDetection there is no locality preference: zone-a gets ≈ 1/3 while healthy, and its sick instance keeps failing calls',
    fails: ["orders' sidecar ranks zone-a priority 0", 'calls that stay in zone-a while healthy', 'calls to zone-b while zone-a is ejected', 'calls back in zone-a after zone-a returns'],
  },
  async run(ctx) {
    const intervalMs = ctx.pick(1000, 500);
    const baseMs = ctx.pick(4000, 2000);
    const outlier = `outlierDetection:
  consecutive5xxErrors: 5
  interval: ${intervalMs}ms
  baseEjectionTime: ${baseMs}ms
  maxEjectionPercent: 100`;
    const locality = `loadBalancer:
  localityLbSetting:
    enabled: true`;
    // The control arm keeps localityLbSetting and drops outlier detection: Istio's rule, not just "no policy".
    if (ctx.control) await ctx.apply(paymentsDestinationRule(locality), 'control arm: localityLbSetting without outlierDetection');
    else await ctx.apply(paymentsDestinationRule(`${locality}\n${outlier}`), 'localityLbSetting + outlierDetection');

    // The priorities orders' sidecar gave payments' hosts (its /clusters, as Envoy's shows them).
    const ranked = (await ctx.clusters('orders-v1-0')).find((c) => c.name === PAYMENTS_CLUSTER)?.hosts ?? [];
    const priorities = ranked.map((h) => `${h.instance} ${h.priority ?? '-'}`).join(', ');
    const ranksByZone = ranked.every((h) => h.priority === (ZONE_OF.get(h.instance) === 'zone-a' ? 0 : 1));
    ctx.check("orders' sidecar ranks zone-a priority 0, zone-b priority 1", 'zone-a 0, zone-b 1', priorities || 'no payments cluster', ranked.length > 0 && ranksByZone);

    const healthyMs = ctx.pick(3000, 1500);
    const afterMs = ctx.pick(3000, 1500);
    const rps = 40;
    const totalMs = healthyMs + 1500 + baseMs + intervalMs + afterMs + 500;
    // On the shared world orders' sidecar log also holds the labs before this one: count only this load's calls.
    const loadAt = ctx.now();
    const load = ctx.load('orders', { path: '/orders', body: ORDER, rps, durationMs: totalMs, concurrency: 16 });

    await new Promise((r) => setTimeout(r, healthyMs));
    const sickAt = ctx.now();
    for (const id of ZONE_A) await ctx.lab(id).sick({ error_rate: 1, status: 500 });
    ctx.mark(`zone-a's payments (${ZONE_A.join(', ')}) sick: 500`);
    // Heal once orders' sidecar ejected them all (the control arm has nothing to wait for: it heals after 2 s, long enough to show the sick zone still served).
    const deadline = Date.now() + (ctx.control ? ctx.pick(2500, 2000) : 5000);
    let ejected = false;
    while (!ejected && Date.now() < deadline) {
      const hosts = (await ctx.clusters('orders-v1-0')).find((c) => c.name === PAYMENTS_CLUSTER)?.hosts ?? [];
      ejected = ZONE_A.every((id) => hosts.find((h) => h.instance === id)?.ejected);
      if (!ejected) await new Promise((r) => setTimeout(r, 20));
    }
    if (ctx.control) await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
    for (const id of ZONE_A) await ctx.lab(id).heal();
    const healedAt = ctx.now();
    ctx.mark("zone-a's payments healed", healedAt);
    await load;

    // Orders' sidecar log: every call to payments, with the instance that answered it.
    const calls = (await ctx.accessLog('orders-v1-0'))
      .filter((e) => e.direction === 'outbound' && e.upstream_cluster === PAYMENTS_CLUSTER && e.upstream_instance !== '-')
      .map((e) => ({ instance: e.upstream_instance, dispatched: ctx.at(e.start_time), answered: ctx.at(e.start_time) + e.duration_ms, code: e.response_code }));

    const healthy = calls.filter((c) => c.dispatched >= loadAt && c.dispatched < sickAt);
    ctx.expectAtLeast(`calls that stay in zone-a while healthy (${healthy.length} calls)`, shareIn(healthy, 'zone-a'), 99, '%');

    // The ejection instant: the 5th consecutive 5xx of zone-a answered (one zone-a instance in the default world).
    const sick = calls.filter((c) => ZONE_A.includes(c.instance) && c.answered >= sickAt);
    const ej = ejectionOf(sick, 5);
    const ejectedAt = ej?.ejectedAt ?? sickAt;
    if (ej) ctx.mark(ctx.control ? "zone-a's 5th consecutive 5xx (control arm: nothing ejects it)" : "zone-a's payments ejected at their 5th consecutive 5xx", ejectedAt);
    const back = ej?.back;
    const during = calls.filter((c) => c.dispatched >= ejectedAt + 1 && c.dispatched < (back ?? healedAt));
    ctx.expectAtLeast(`calls to zone-b while zone-a is ejected (${during.length} calls)`, shareIn(during, 'zone-b'), 99, '%');

    if (back === undefined) {
      ctx.check('calls back in zone-a after zone-a returns', `≥ 99% of calls from ${baseMs}–${baseMs + intervalMs} ms after the ejection`, 'zone-a never came back during the run', false);
      return;
    }
    ctx.mark('zone-a back in the pool', back);
    const after = calls.filter((c) => c.dispatched >= back && c.dispatched < back + afterMs);
    ctx.expectAtLeast(`calls back in zone-a after zone-a returns (${after.length} calls over ${afterMs} ms)`, shareIn(after, 'zone-a'), 99, '%');
  },
});
