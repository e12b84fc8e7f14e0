import type { BusMessage, EventBus } from '../../bus/types';
import { Collector, uniqueName } from './helpers';

export interface OutageResult {
  published: number;
  distinctConsumed: number;
  duplicates: number;
  publishFailures: number;
  downMs: number;
  recoveryMs: number;
}

/**
 * 1,000 messages through a retrying publisher (the outbox relay's behaviour: a failed batch is
 * retried after 200 ms until it is acknowledged), the broker stopped for `downMs` once half of
 * them are acknowledged. Resolves when every id has been consumed; duplicates are counted, not
 * failed (the bus is at-least-once).
 */
export async function runOutage(
  bus: EventBus,
  broker: { stop(): Promise<unknown>; start(): Promise<unknown> },
  opts: { downMs: number; consumeTimeoutMs: number },
): Promise<OutageResult> {
  const topic = uniqueName('outage');
  const seen = new Collector();
  const sub = await bus.subscribe(topic, 'relay-test', async (m) => seen.record(m));
  let publishFailures = 0;
  let outage: Promise<void> | undefined;
  let downAt = 0;
  let upAt = 0;
  try {
    for (let batch = 0; batch < 100; batch++) {
      const messages: BusMessage[] = Array.from({ length: 10 }, (_, i) => {
        const n = batch * 10 + i;
        return { id: `out-${n}`, key: `order-${n % 7}`, value: JSON.stringify({ n }) };
      });
      for (;;) {
        try {
          await bus.publish(topic, messages);
          break;
        } catch {
          publishFailures++;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      if (batch === 49) {
        outage = (async () => {
          await broker.stop();
          downAt = Date.now();
          await new Promise((r) => setTimeout(r, opts.downMs));
          await broker.start();
          upAt = Date.now();
        })();
        await new Promise((r) => setTimeout(r, 50)); // let the stop begin before the next batch
      } else {
        await new Promise((r) => setTimeout(r, 20)); // pace: ~2 s of publishing without an outage
      }
    }
    await outage;
    await seen.untilDistinct(1000, opts.consumeTimeoutMs);
  } finally {
    await outage?.catch(() => undefined);
    await sub.close();
  }
  const distinct = seen.distinctIds();
  return {
    published: 1000,
    distinctConsumed: [...distinct].filter((id) => /^out-\d+$/.test(id) && Number(id.slice(4)) < 1000).length,
    duplicates: seen.calls.length - distinct.size,
    publishFailures,
    downMs: upAt - downAt,
    recoveryMs: Date.now() - upAt,
  };
}
