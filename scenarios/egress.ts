import path from 'node:path';
import { defineScenario } from './runner/scenario';
import { hasFlag } from './runner/flags';
import { ORDER } from './runner/fixtures';
import type { ScenarioContext } from './runner/context';
import type { AccessLogEntry } from '../mesh/access-log';
import { MAIL_PROVIDER_HOST, mailProviderServiceEntry, mailProviderTls } from '../world/external/registration';
import type { ReceivedMessage } from '../world/external/mail-provider';

const NOTIFICATIONS = 'notifications-v1-0';

const REGISTRY_ONLY = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: istio-system
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
`;

const MAIL_TIMEOUT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: mail-provider
spec:
  hosts: [${MAIL_PROVIDER_HOST}]
  http:
  - route:
    - destination: {host: ${MAIL_PROVIDER_HOST}}
    timeout: 500ms
    retries: {attempts: 0}
`;

interface MailStats {
  queued: number;
  sent: number;
  pending: number;
}

/** The world's mail provider: its ports (from the world's state) and its CA file (under the world's data dir). */
function provider(ctx: ScenarioContext): { control: string; tls: number; caFile: string } {
  const state = ctx.world.state();
  const p = state.processes.find((x) => x.name === 'mail-provider');
  if (!p) throw new Error('egress needs the world\'s external mail provider (World option `externals`; `npm start` runs it): none in this world');
  return { control: `http://${state.host}:${p.ports.control}`, tls: p.ports.tls, caFile: path.join(state.dataDir, 'external', 'mail-provider', 'ca.pem') };
}

async function providerLog(ctx: ScenarioContext, since: number): Promise<ReceivedMessage[]> {
  return (await (await fetch(`${provider(ctx).control}/lab/log?since=${since}`)).json()) as ReceivedMessage[];
}

async function mailStats(ctx: ScenarioContext): Promise<MailStats> {
  const state = ctx.world.state();
  const n = state.instances.find((i) => i.id === NOTIFICATIONS)!;
  return (await (await fetch(`http://${state.host}:${n.app.ports.http}/notifications/mail`)).json()) as MailStats;
}

/** notifications' outbound calls to the provider since `since` (its sidecar's access log). */
async function mailCalls(ctx: ScenarioContext, since: number): Promise<AccessLogEntry[]> {
  return (await ctx.accessLog(NOTIFICATIONS)).filter((e) => e.direction === 'outbound' && e.authority === MAIL_PROVIDER_HOST && Date.parse(e.start_time) >= since);
}

/**
 * Egress: the world's mail provider lives outside the mesh and notifications reaches it only by name through
 * its sidecar. REGISTRY_ONLY blocks it until a ServiceEntry declares it; a DestinationRule originates TLS to
 * it; a VirtualService timeout cuts its stalls. notifications' mail outbox keeps every mail until the provider
 * took it: nothing lost, nothing mailed twice.
 */
export default defineScenario({
  name: 'egress',
  title: 'REGISTRY_ONLY blocks the undeclared mail provider (502 block_all); a ServiceEntry + TLS origination opens it; a 2 s stall is cut at 500 ms (UT)',
  teaches: [
    'A host outside the mesh is reached through the sidecar like any other: REGISTRY_ONLY answers 502 (Istio\'s block_all,',
    'BlackHoleCluster) for a host no ServiceEntry declares; the ServiceEntry makes it a cluster (outbound|80||host) that',
    'DestinationRules (tls SIMPLE: TLS origination) and VirtualServices (timeout) apply to. The app only knows the name.',
  ],
  externals: true,
  control: {
    removes: 'no Sidecar REGISTRY_ONLY, no ServiceEntry / DestinationRule, no VirtualService timeout',
    shows: 'ALLOW_ANY has no address to pass the undeclared name through to (404 NR, no 502 block_all); without the ServiceEntry no mail ever reaches the provider, TLS or not, and no stall is cut (no UT)',
    fails: ['REGISTRY_ONLY: calls to the undeclared provider', 'ServiceEntry opens it', 'TLS origination verified by the provider', 'the 2 s stall is cut by the route timeout', 'after the provider heals'],
  },
  bucketMs: 500,
  async run(ctx) {
    const p = provider(ctx);
    // A running world (`npm start`) ships the provider's registration: the lab starts from the mesh without it.
    const live = ((await (await fetch(`${ctx.world.controlPlaneUrl}/v1/config`)).json()) as { resources: { kind: string; metadata: { name: string } }[] }).resources;
    const registered = live.filter((r) => r.metadata.name === 'mail-provider' && ['ServiceEntry', 'DestinationRule', 'VirtualService'].includes(r.kind));
    if (registered.length) await ctx.world.deleteConfig(registered.map((r) => ({ kind: r.kind, name: r.metadata.name })));
    const orders = ctx.pick(40, 20);

    // 1. Blocked: the provider is in no registry and the mesh allows only what is.
    await ctx.applyPolicy(REGISTRY_ONLY, 'Sidecar istio-system/default: outboundTrafficPolicy REGISTRY_ONLY');
    const t1 = Date.now();
    await ctx.load('orders (provider undeclared)', { path: '/orders', body: ORDER, rps: 20, count: orders, concurrency: 8 });
    await ctx.waitFor(async () => ((await mailCalls(ctx, t1)).length >= 3 ? true : undefined), 10_000);
    const blockedCalls = await mailCalls(ctx, t1);
    const blocked = blockedCalls.filter((e) => e.response_code === 502 && e.route_name === 'block_all' && e.upstream_cluster === 'BlackHoleCluster');
    ctx.check(`REGISTRY_ONLY: calls to the undeclared provider answered 502 by block_all (BlackHoleCluster), of ${blockedCalls.length} (notifications' access log)`, 'all, ≥ 3', `${blocked.length}`, blockedCalls.length >= 3 && blocked.length === blockedCalls.length);
    ctx.expectEqual('requests that reached the provider while it was undeclared (its own log)', (await providerLog(ctx, t1)).length, 0);

    // 2. Declared: a ServiceEntry for its name, TLS originated by the sidecar with the provider's CA.
    const t2 = Date.now();
    const addr = { tlsPort: p.tls, caFile: p.caFile };
    await ctx.applyPolicy(`${mailProviderServiceEntry(addr)}---\n${mailProviderTls(addr)}`, `ServiceEntry ${MAIL_PROVIDER_HOST} + DestinationRule tls SIMPLE`);
    const drained = await ctx.waitFor(async () => ((await mailStats(ctx)).pending === 0 ? true : undefined), ctx.control ? 3000 : 15_000);
    if (drained) ctx.mark('every queued mail taken by the provider');
    const opened = await providerLog(ctx, t2);
    const stats2 = await mailStats(ctx);
    ctx.check(`ServiceEntry opens it: mails the provider accepted, of ${stats2.queued} queued (its own log)`, `${stats2.queued}, 0 pending`, `${new Set(opened.filter((e) => e.status === 202).map((e) => e.idempotency_key)).size}, ${stats2.pending} pending`, stats2.queued > 0 && stats2.pending === 0 && new Set(opened.filter((e) => e.status === 202).map((e) => e.idempotency_key)).size === stats2.queued);
    const tlsSeen = opened.filter((e) => e.tls && e.sni === MAIL_PROVIDER_HOST);
    ctx.check(`TLS origination verified by the provider: requests on its TLS port with SNI ${MAIL_PROVIDER_HOST}, of ${opened.length}`, 'all, ≥ 1', `${tlsSeen.length}`, opened.length > 0 && tlsSeen.length === opened.length);

    // 3. The provider stalls 2 s; a 500 ms route timeout bounds every call to it.
    await ctx.applyPolicy(MAIL_TIMEOUT, `VirtualService ${MAIL_PROVIDER_HOST}: timeout 500ms`);
    await (await fetch(`${p.control}/lab/sick`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency_ms: 2000 }) })).arrayBuffer();
    ctx.mark('mail provider stalls 2 s');
    const t3 = Date.now();
    await ctx.load('orders (provider stalled)', { path: '/orders', body: ORDER, rps: 20, count: ctx.pick(20, 10), concurrency: 8 });
    // A full relay batch (8 mails side by side) at least.
    await ctx.waitFor(async () => ((await mailCalls(ctx, t3)).length >= 8 ? true : undefined), 10_000);
    const stalled = await mailCalls(ctx, t3);
    const cut = stalled.filter((e) => e.response_code === 504 && hasFlag(e, 'UT'));
    ctx.check(`the 2 s stall is cut by the route timeout: calls 504 UT within 500 ms ± 100, of ${stalled.length}`, 'all, ≥ 8', `${cut.filter((e) => Math.abs(e.duration_ms - 500) <= 100).length}`, stalled.length >= 8 && cut.filter((e) => Math.abs(e.duration_ms - 500) <= 100).length === stalled.length);
    await (await fetch(`${p.control}/lab/sick`, { method: 'DELETE' })).arrayBuffer();
    ctx.mark('mail provider healed');

    // 4. Healed: the outbox delivers what the stall held back, the replays deduplicated by the provider.
    const healed = await ctx.waitFor(async () => ((await mailStats(ctx)).pending === 0 ? true : undefined), ctx.control ? 3000 : 15_000);
    if (healed) ctx.mark('mail outbox drained');
    const all = await providerLog(ctx, t1);
    const stats4 = await mailStats(ctx);
    const firsts = new Map<string, number>();
    for (const e of all) if (e.status === 202 && !e.duplicate && e.idempotency_key) firsts.set(e.idempotency_key, (firsts.get(e.idempotency_key) ?? 0) + 1);
    const twice = [...firsts.values()].filter((n) => n > 1).length;
    const replays = all.filter((e) => e.duplicate).length;
    ctx.check(`after the provider heals every mail is delivered exactly once: delivered / queued, keys delivered twice (${replays} replays of a timed-out call answered as duplicates)`, `${stats4.queued} / ${stats4.queued}, 0`, `${firsts.size} / ${stats4.queued}, ${twice}`, stats4.queued > 0 && stats4.pending === 0 && firsts.size === stats4.queued && twice === 0);
    // The same calls as the sidecar's metrics count them (Istio's labels): blocked ones once the ServiceEntry ended them.
    const bh = await ctx.metric(NOTIFICATIONS, 'istio_requests_total', { reporter: 'source', destination_service_name: 'BlackHoleCluster', response_code: '502' });
    const blockedLogged = (await mailCalls(ctx, t1)).filter((e) => e.upstream_cluster === 'BlackHoleCluster').length;
    ctx.expectEqual(`blocked calls in notifications' metrics (istio_requests_total{destination_service_name="BlackHoleCluster", response_code="502"}) = in its access log (${blockedLogged})`, bh, blockedLogged);
    ctx.mark(`notifications' sidecar metrics: ${bh} × {destination_service_name="BlackHoleCluster"}, ${await ctx.metric(NOTIFICATIONS, 'istio_requests_total', { destination_service: MAIL_PROVIDER_HOST })} × {destination_service="${MAIL_PROVIDER_HOST}"}`);
  },
});
