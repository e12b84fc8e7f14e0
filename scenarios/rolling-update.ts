import { defineScenario } from './runner/scenario';

const OLD = 'v1';
const NEW = 'v3';
const SLOW_MS = 100;

/**
 * A rolling update (Kubernetes' maxSurge 1, maxUnavailable 0) on payments v1 under load: each old
 * instance is replaced by a new-version one, the new one ready before it gets traffic and the old
 * one drained before it stops. Then the same roll back to v1.
 */
export default defineScenario({
  name: 'rolling-update',
  title: 'payments v1 → v3 rolled one instance at a time under load (ready before traffic, drain before stop): 0 failed requests',
  teaches: [
    'A new instance joins the endpoints only once its readiness probe passes; an old one leaves them (its probe fails,',
    'every sidecar ACKs the push) before it stops, so the requests it still holds finish. One at a time, both versions',
    'serve during the roll and no request fails. Rolling back is the same roll the other way.',
  ],
  control: {
    removes: 'no drain and no readiness gate: each old instance killed, its replacement started after',
    shows: 'killing instances instead of draining them fails the requests they held',
    fails: ['failed requests during the roll'],
  },
  async run(ctx) {
    const w = ctx.world;
    if (!w.addInstance || !w.removeInstance || !w.replaceInstance) throw new Error('rolling-update needs a world that can add and remove instances (the embedded one)');
    const olds = () => w.state().instances.filter((i) => i.service === 'payments' && i.version === OLD).map((i) => i.id);
    // Every payments call takes 100 ms: each instance always holds requests in flight.
    const slow = async (): Promise<void> => {
      for (const i of w.state().instances.filter((x) => x.service === 'payments')) await ctx.lab(i.id).sick({ latency_ms: SLOW_MS });
    };
    await slow();
    const stop = { stopped: false };
    const load = ctx.load('rolling', { path: '/api/payments/validate?amount=5', rps: 150, durationMs: 300_000, concurrency: 64 }, stop);
    const roll = async (from: string, to: string): Promise<void> => {
      for (const id of w.state().instances.filter((i) => i.service === 'payments' && i.version === from).map((i) => i.id)) {
        if (ctx.control) {
          await w.killInstance(id);
          ctx.mark(`control arm: ${id} killed`);
          await w.removeInstance!(id);
          const fresh = await w.addInstance!('payments', to);
          ctx.mark(`${fresh} started`);
          await ctx.lab(fresh).sick({ latency_ms: SLOW_MS });
        } else {
          const fresh = await w.addInstance!('payments', to);
          await ctx.lab(fresh).sick({ latency_ms: SLOW_MS });
          ctx.mark(`${fresh} ready, in the endpoints`);
          await w.removeInstance!(id);
          ctx.mark(`${id} drained and stopped`);
        }
      }
    };
    let during = new Map<string, number>();
    let afterRoll = new Map<string, number>();
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const started = Date.now();
      await roll(OLD, NEW);
      const rolledAt = Date.now();
      ctx.mark(`rolled to ${NEW}`);
      await new Promise((r) => setTimeout(r, 1000));
      afterRoll = await ctx.routedVersions('/api/payments/validate', rolledAt + 500, Date.now() - 200);
      during = await ctx.routedVersions('/api/payments/validate', started, rolledAt);
      await roll(NEW, OLD);
      ctx.mark(`rolled back to ${OLD}`);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      stop.stopped = true;
    }
    const samples = await load;
    const failures = samples.filter((s) => s.status !== 200);
    if (failures.length) {
      const bad = (await ctx.accessLog('gateway')).filter((e) => e.response_code >= 500 && e.path.startsWith('/api/payments/validate'));
      ctx.mark(`the gateway's failed requests: ${bad.slice(0, 8).map((e) => `${e.start_time.slice(17, 23)} ${e.response_code} ${e.response_flags} → ${e.upstream_instance} (${e.duration_ms} ms, ${e.attempts} attempts)`).join('; ')}`);
    }
    if (failures.length) ctx.mark(`failed requests: ${failures.slice(0, 8).map((f) => `${(f.t / 1000).toFixed(2)}s ${f.status || f.error}`).join(', ')}${failures.length > 8 ? ' …' : ''}`);
    ctx.expectEqual(`failed requests during the roll and the roll back (of ${samples.length})`, samples.filter((s) => s.status !== 200).length, 0);
    ctx.check(`both versions served during the roll (${OLD} and ${NEW})`, 'both > 0', `${OLD}: ${during.get(OLD) ?? 0}, ${NEW}: ${during.get(NEW) ?? 0}`, (during.get(OLD) ?? 0) > 0 && (during.get(NEW) ?? 0) > 0);
    ctx.expectEqual(`requests answered by ${OLD} once the roll ended (of ${[...afterRoll.values()].reduce((a, b) => a + b, 0)})`, afterRoll.get(OLD) ?? 0, 0);
    ctx.expectEqual(`payments ${OLD} instances at the end (rolled back)`, olds().length, 2);
  },
});
