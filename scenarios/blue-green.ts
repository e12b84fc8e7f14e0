import { defineScenario } from './runner/scenario';
import { PAYMENTS, paymentsSplit } from './runner/fixtures';

const BLUE = 'v1';
const GREEN = 'v2';
const BLUE_INSTANCES = PAYMENTS.filter((id) => id.includes(`-${BLUE}-`));

/** Blue-green: both versions run; one route switch moves all traffic at once, and one switches it back. */
export default defineScenario({
  name: 'blue-green',
  title: 'blue-green on payments: all traffic v1 → v2 in one switch and back (instant rollback), 0 failed requests',
  teaches: [
    'Blue (v1) and green (v2) both run at full size; a VirtualService with weight 100 on one subset is the switch.',
    'Flipping it is one config push: once every sidecar ACKed it no request reaches the old color, none fails, and the',
    'rollback is the same push the other way — no instance starts or stops.',
  ],
  control: {
    removes: "no route switch: blue-green by redeploying (blue's instances stopped to switch, started again to roll back)",
    shows: 'switching by stopping and starting instances fails the requests in flight and routes to green before the switch',
    fails: ['failed requests across both switches', 'requests answered by green before the switch'],
  },
  async run(ctx) {
    // Every payments instance takes 20 ms, so requests are in flight at any instant (as in production).
    for (const id of PAYMENTS) await ctx.lab(id).sick({ latency_ms: 20 });
    await ctx.applyPolicy(paymentsSplit(100, 0), `all traffic to blue (${BLUE})`);
    const phaseMs = ctx.pick(4000, 2000);
    const stop = { stopped: false };
    const load = ctx.load('blue-green', { path: '/api/payments/validate?amount=5', rps: 200, durationMs: 3 * phaseMs + 60_000, concurrency: 32 }, stop);
    const windows: { name: string; old: string; routed: Map<string, number> }[] = [];
    // Requests the gateway started in the window are logged once they complete: read 500 ms after its end.
    const routed = async (from: number): Promise<Map<string, number>> => {
      const to = Date.now();
      await new Promise((r) => setTimeout(r, 500));
      return ctx.routedVersions('/api/payments/validate', from, to);
    };
    let from = Date.now();
    const wait = (): Promise<void> => new Promise((r) => setTimeout(r, phaseMs));
    try {
      await wait();
      windows.push({ name: 'before the switch', old: GREEN, routed: await routed(from) });
      if (ctx.control) {
        ctx.mark('control arm: stopping blue instances (green takes over as the mesh learns)');
        for (const id of BLUE_INSTANCES) await ctx.world.killInstance(id);
      } else await ctx.apply(paymentsSplit(0, 100), `switch: all traffic to green (${GREEN})`);
      from = Date.now();
      await wait();
      windows.push({ name: 'after the switch to green', old: BLUE, routed: await routed(from) });
      if (ctx.control) {
        ctx.mark('control arm: starting blue instances again (rollback by redeploy)');
        await Promise.all(BLUE_INSTANCES.map((id) => ctx.world.restartInstance(id)));
        for (const id of BLUE_INSTANCES) await ctx.lab(id).sick({ latency_ms: 20 });
        ctx.mark('blue instances back');
      } else await ctx.apply(paymentsSplit(100, 0), `rollback: all traffic to blue (${BLUE})`);
      from = Date.now();
      await wait();
      windows.push({ name: 'after the switch back', old: GREEN, routed: await routed(from) });
    } finally {
      stop.stopped = true;
    }
    const samples = await load;
    for (const w of windows) {
      const total = [...w.routed.values()].reduce((a, b) => a + b, 0);
      const label = w.old === GREEN ? 'green' : 'blue';
      ctx.expectEqual(`requests answered by ${label} ${w.name} (of ${total} the gateway routed)`, w.routed.get(w.old) ?? 0, 0);
      ctx.expectAtLeast(`requests the gateway routed ${w.name}`, total, Math.floor((200 * phaseMs) / 1000 / 4));
    }
    ctx.expectEqual(`failed requests across both switches (of ${samples.length})`, samples.filter((s) => s.status !== 200).length, 0);
  },
});
