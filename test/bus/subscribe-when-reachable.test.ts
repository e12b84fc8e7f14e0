import { subscribeWhenReachable } from '../../bus/subscribe-when-reachable';
import type { EventBus, Subscription } from '../../bus/types';

/** A bus whose broker is unreachable for the first `failures` subscribes (a sidecar not listening yet). */
function flakyBus(failures: number): { bus: EventBus; calls: number; closed: number } {
  const out = { calls: 0, closed: 0, bus: undefined as unknown as EventBus };
  out.bus = {
    subscribe: async (): Promise<Subscription> => {
      out.calls++;
      if (out.calls <= failures) throw new Error('connect ECONNREFUSED 127.0.0.1:19092');
      return { close: async () => void out.closed++ } as Subscription;
    },
  } as unknown as EventBus;
  return out;
}

/** A timer the test fires by hand: no sleeps. */
function manualTimer(): { schedule: (fn: () => void, ms: number) => { cancel(): void }; fire(): Promise<void>; waiting: () => number; delays: number[] } {
  let queue: { fn: () => void; cancelled: boolean }[] = [];
  const delays: number[] = [];
  return {
    delays,
    schedule: (fn, ms) => {
      delays.push(ms);
      const t = { fn, cancelled: false };
      queue.push(t);
      return { cancel: () => void (t.cancelled = true) };
    },
    async fire() {
      const due = queue.filter((t) => !t.cancelled);
      queue = [];
      for (const t of due) t.fn();
      await new Promise((r) => setImmediate(r));
    },
    waiting: () => queue.filter((t) => !t.cancelled).length,
  };
}

describe('subscribeWhenReachable: a consumer whose broker is behind a sidecar not up yet', () => {
  it('a reachable broker is subscribed on the first attempt, before it returns (as a plain subscribe)', async () => {
    const b = flakyBus(0);
    const s = await subscribeWhenReachable(b.bus, 'order.created', 'notifications', async () => undefined);
    expect({ subscribed: s.subscribed, attempts: s.attempts, calls: b.calls }).toEqual({ subscribed: true, attempts: 1, calls: 1 });
  });

  it('3 refused attempts are retried every retryMs, the 4th subscribes, and retrying stops there', async () => {
    const b = flakyBus(3);
    const t = manualTimer();
    const retries: number[] = [];
    const s = await subscribeWhenReachable(b.bus, 'order.created', 'notifications', async () => undefined, { retryMs: 1000, schedule: t.schedule, onRetry: (_e, n) => retries.push(n) });
    expect({ subscribed: s.subscribed, attempts: s.attempts }).toEqual({ subscribed: false, attempts: 1 }); // returned: the app goes on to listen
    await t.fire();
    await t.fire();
    await t.fire();
    await s.ready;
    expect({ subscribed: s.subscribed, attempts: s.attempts, calls: b.calls, retries, delays: t.delays, waiting: t.waiting() }).toEqual({ subscribed: true, attempts: 4, calls: 4, retries: [1, 2, 3], delays: [1000, 1000, 1000], waiting: 0 });
    await s.close();
    expect(b.closed).toBe(1);
  });

  it('closed while still retrying: no attempt after close', async () => {
    const b = flakyBus(100);
    const t = manualTimer();
    const s = await subscribeWhenReachable(b.bus, 'order.created', 'notifications', async () => undefined, { schedule: t.schedule });
    await t.fire();
    expect(b.calls).toBe(2);
    await s.close();
    await t.fire();
    expect({ calls: b.calls, waiting: t.waiting(), subscribed: s.subscribed }).toEqual({ calls: 2, waiting: 0, subscribed: false });
  });
});
