import { DLQ_SUFFIX, PoisonMessageError, type BusMessage, type EventBus, type Subscription } from '../../bus/types';
import { Collector, uniqueName } from './helpers';

/**
 * The contract every EventBus adapter must meet, run against memory, Kafka and RabbitMQ alike.
 * `getBus` is called inside the tests (after the caller's beforeAll made the bus).
 *
 * Subscriptions are made before publishing: RabbitMQ keeps messages only for groups whose queue
 * already exists, while Kafka and memory would also replay from the start.
 */
export function contractSuite(getBus: () => EventBus, opts: { timeoutMs: number }): void {
  const T = opts.timeoutMs;
  const subs: Subscription[] = [];
  const track = (s: Subscription): Subscription => {
    subs.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(subs.splice(0).map((s) => s.close()));
  });

  const msg = (prefix: string, key: string, n: number, extra?: Record<string, string>): BusMessage => ({
    id: `${prefix}-${key}-${n}`,
    key,
    value: JSON.stringify({ key, n }),
    headers: extra,
  });

  test('publish → consume: every message once in the happy path, in order per key, headers kept', async () => {
    const bus = getBus();
    const group = uniqueName('g');
    const topic = uniqueName('order');
    const seen = new Collector();
    track(await bus.subscribe(topic, group, async (m) => seen.record(m)));
    const keys = ['k1', 'k2', 'k3'];
    // 4 batches × 3 keys × 5 messages, interleaved by key inside each batch.
    for (let batch = 0; batch < 4; batch++) {
      const messages: BusMessage[] = [];
      for (let i = 0; i < 5; i++) for (const k of keys) messages.push(msg('o', k, batch * 5 + i, { 'x-trace': `t${batch}` }));
      await bus.publish(topic, messages);
    }
    await seen.untilDistinct(60, T);
    expect(seen.calls).toHaveLength(60);
    for (const k of keys) {
      const ns = seen.calls.filter((m) => m.key === k).map((m) => (JSON.parse(m.value) as { n: number }).n);
      expect(ns).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
    const first = seen.calls.find((m) => m.id === 'o-k2-7');
    expect(first).toMatchObject({ topic, key: 'k2', value: '{"key":"k2","n":7}', headers: { 'x-trace': 't1' } });
  });

  test('commit after handle: a transient handler error redelivers the message, later ones wait for it', async () => {
    const bus = getBus();
    const group = uniqueName('g');
    const topic = uniqueName('retry');
    const attempts = new Map<string, number>();
    const done = new Collector();
    track(
      await bus.subscribe(topic, group, async (m) => {
        const n = (attempts.get(m.id) ?? 0) + 1;
        attempts.set(m.id, n);
        if (m.id === 'r-k-2' && n === 1) throw new Error('database busy');
        done.record(m);
      }),
    );
    await bus.publish(topic, [msg('r', 'k', 1), msg('r', 'k', 2), msg('r', 'k', 3)]);
    await done.untilDistinct(3, T);
    expect(attempts.get('r-k-2')).toBe(2);
    expect(done.calls.map((m) => m.id)).toEqual(['r-k-1', 'r-k-2', 'r-k-3']);
    expect(done.calls[1].redeliveries).toBeGreaterThanOrEqual(1);
    expect(done.calls[0].redeliveries ?? 0).toBe(0);
  });

  test('poison message goes to <topic>.dlq with reason headers; the next good message is processed', async () => {
    const bus = getBus();
    const group = uniqueName('g');
    const topic = uniqueName('poison');
    const dead = new Collector();
    track(await bus.subscribe(topic + DLQ_SUFFIX, uniqueName('ops'), async (m) => dead.record(m)));
    const good = new Collector();
    let poisonCalls = 0;
    track(
      await bus.subscribe(topic, group, async (m) => {
        if (m.id === 'p-k-2') {
          poisonCalls++;
          throw new PoisonMessageError('field "amount" is negative');
        }
        good.record(m);
      }),
    );
    await bus.publish(topic, [msg('p', 'k', 1), msg('p', 'k', 2, { 'x-trace': 'abc' }), msg('p', 'k', 3)]);
    await good.untilDistinct(2, T);
    await dead.untilDistinct(1, T);
    expect(good.calls.map((m) => m.id)).toEqual(['p-k-1', 'p-k-3']);
    expect(poisonCalls).toBe(1);
    expect(dead.calls).toHaveLength(1);
    expect(dead.calls[0]).toMatchObject({
      id: 'p-k-2',
      key: 'k',
      topic: topic + DLQ_SUFFIX,
      value: '{"key":"k","n":2}',
      headers: { 'x-dlq-reason': 'field "amount" is negative', 'x-original-topic': topic, 'x-trace': 'abc' },
    });
  });

  test('two consumer groups each get every message', async () => {
    const bus = getBus();
    const topic = uniqueName('groups');
    const a = new Collector();
    const b = new Collector();
    track(await bus.subscribe(topic, uniqueName('billing'), async (m) => a.record(m)));
    track(await bus.subscribe(topic, uniqueName('mailer'), async (m) => b.record(m)));
    await bus.publish(
      topic,
      Array.from({ length: 10 }, (_, i) => msg('g', `k${i % 3}`, i)),
    );
    await Promise.all([a.untilDistinct(10, T), b.untilDistinct(10, T)]);
    const want = Array.from({ length: 10 }, (_, i) => `g-k${i % 3}-${i}`).sort();
    expect([...a.distinctIds()].sort()).toEqual(want);
    expect([...b.distinctIds()].sort()).toEqual(want);
  });

  test('a consumer closed and reopened resumes from its committed offset, losing nothing', async () => {
    const bus = getBus();
    const group = uniqueName('g');
    const topic = uniqueName('resume');
    const first = new Collector();
    const sub1 = await bus.subscribe(topic, group, async (m) => first.record(m));
    await bus.publish(topic, [1, 2, 3, 4, 5].map((n) => msg('c', 'k', n)));
    await first.untilDistinct(5, T);
    await sub1.close();
    await bus.publish(topic, [6, 7, 8, 9, 10].map((n) => msg('c', 'k', n)));
    const second = new Collector();
    track(await bus.subscribe(topic, group, async (m) => second.record(m)));
    await second.untilDistinct(5, T);
    expect(first.calls.map((m) => m.id)).toEqual([1, 2, 3, 4, 5].map((n) => `c-k-${n}`));
    expect(second.calls.map((m) => m.id)).toEqual([6, 7, 8, 9, 10].map((n) => `c-k-${n}`));
  });

  test('consumerLag counts what a group has not committed: 4 after publishing, 0 once handled', async () => {
    const bus = getBus();
    const group = uniqueName('g');
    const topic = uniqueName('lag');
    await (await bus.subscribe(topic, group, async () => undefined)).close(); // the group exists, consumes nothing
    await bus.publish(topic, [1, 2, 3, 4].map((n) => msg('l', 'k', n)));
    expect(await bus.consumerLag(topic, group)).toBe(4);
    const seen = new Collector();
    const sub = await bus.subscribe(topic, group, async (m) => seen.record(m));
    await seen.untilDistinct(4, T);
    await sub.close();
    expect(await bus.consumerLag(topic, group)).toBe(0);
  });

  test('publish of an empty batch resolves without touching the broker', async () => {
    const bus = getBus();
    await expect(bus.publish(uniqueName('empty'), [])).resolves.toBeUndefined();
  });
}
