import { defineScenario } from './runner/scenario';
import { ORDER } from './runner/fixtures';

const CONSUMER = 'notifications-v1-0';

interface SentStats {
  sent_per_order: { order_id: string; sent: number }[];
  deliveries: number;
  redeliveries: number;
}

/**
 * At-least-once delivery, exactly-once effect: the notifications consumer sends its notification,
 * then its acknowledgement fails, so the bus delivers the event again. Deduplication by event id
 * makes the second delivery send nothing.
 */
export default defineScenario({
  name: 'redelivery',
  title: 'notifications acks fail after sending (30%): events redelivered, each order still notified exactly once',
  teaches: [
    'A bus delivers at least once: a consumer that did its work but failed to acknowledge gets the message again.',
    'notifications records every delivery and every notification it sends; it dedupes by event id, so a redelivery',
    'is counted as a delivery and sends nothing. Exactly-once is a property of the consumer, not of the broker.',
  ],
  control: {
    removes: "notifications' idempotency off (lab control: every delivery sends)",
    shows: 'with idempotency off every redelivery sends the notification again: duplicates counted per order',
    fails: ['duplicate notifications sent', 'invariant: every confirmed order notified exactly once'],
  },
  async run(ctx) {
    const state = ctx.world.state();
    const inst = state.instances.find((i) => i.id === CONSUMER);
    if (!inst) throw new Error(`no instance ${CONSUMER}`);
    const sentUrl = `http://${state.host}:${inst.app.ports.http}/notifications/sent`;
    const read = async (): Promise<SentStats> => (await (await fetch(sentUrl)).json()) as SentStats;
    const before = await read();

    await ctx.lab(CONSUMER).sick({ ack_failure_rate: 0.3, seed: ctx.opts.seed, ...(ctx.control ? { idempotency: false } : {}) });
    const samples = await ctx.load('orders', { path: '/orders', body: ORDER, rps: 20, durationMs: ctx.pick(5000, 3000), concurrency: 8, keepBodies: true });
    const ids = samples.filter((s) => s.status === 201).map((s) => (s.body as { id: string }).id);
    ctx.expectEqual(`orders confirmed (of ${samples.length})`, ids.length, samples.length);

    // Wait until every order's event was handled (a failed ack is retried in place within ~50–400 ms).
    const want = new Set(ids);
    const after = await ctx.waitFor(async () => {
      const s = await read();
      return s.sent_per_order.filter((o) => want.has(o.order_id)).length === want.size ? s : undefined;
    }, 20000);
    await ctx.lab(CONSUMER).heal();
    const now = after ?? (await read());
    const mine = now.sent_per_order.filter((o) => want.has(o.order_id));
    ctx.mark(`${now.deliveries - before.deliveries} deliveries for ${ids.length} events, ${now.redeliveries - before.redeliveries} of them redeliveries`);
    ctx.expectAtLeast('redeliveries received (failed acks, counted by event id)', now.redeliveries - before.redeliveries, 1);
    ctx.expectEqual(`orders notified (of ${ids.length})`, mine.length, ids.length);
    ctx.expectEqual('duplicate notifications sent (side effects beyond one per order)', mine.reduce((n, o) => n + o.sent - 1, 0), 0);
  },
});
