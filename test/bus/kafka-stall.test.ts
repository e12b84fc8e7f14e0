import { EventEmitter, once } from 'node:events';
import type { Kafka } from 'kafkajs';
import { KafkaBus } from '../../bus/kafka';

/**
 * kafkajs' consumer can stop fetching after broker restarts without emitting a crash (kafkajs#659); the bus then
 * replaces it, as it does a crashed one. A publish that never settles rejects at its deadline and takes its producer
 * with it (the orders outbox relay waits for each publish: one that hung would hold every later event). Here a stand-in client's consumers either fetch (a fetch_start event
 * every 20 ms) or stall (connected, running, silent), so the watchdog is tested on its own, without a broker.
 */
class FakeConsumer extends EventEmitter {
  readonly events = { FETCH_START: 'consumer.fetch_start', CRASH: 'consumer.crash' };
  disconnected = false;
  private timer?: NodeJS.Timeout;
  constructor(
    private readonly fetching: boolean,
    private readonly disconnectHangs: boolean,
  ) {
    super();
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run(): Promise<void> {
    if (this.fetching) this.timer = setInterval(() => this.emit(this.events.FETCH_START), 20);
  }
  disconnect(): Promise<void> {
    clearInterval(this.timer);
    this.disconnected = true;
    return this.disconnectHangs ? new Promise(() => undefined) : Promise.resolve();
  }
}

function fakeClient(kinds: { fetching: boolean; disconnectHangs?: boolean }[]): { client: Kafka; made: FakeConsumer[]; events: EventEmitter } {
  const made: FakeConsumer[] = [];
  const events = new EventEmitter();
  const admin = { connect: async () => undefined, createTopics: async () => true, disconnect: async () => undefined };
  const client = {
    admin: () => admin,
    consumer: () => {
      const k = kinds[Math.min(made.length, kinds.length - 1)];
      const c = new FakeConsumer(k.fetching, k.disconnectHangs ?? false);
      made.push(c);
      events.emit('made', c);
      return c;
    },
  } as unknown as Kafka;
  return { client, made, events };
}

describe('a Kafka consumer that stops fetching without a crash is replaced', () => {
  beforeAll(() => {
    process.env.MESHLAB_BUS_LOG ??= 'silent';
  });

  test('a consumer silent for stallMs (300 ms) is disconnected and a new one runs within 300 ms + a quarter + the 2 s restart pause; one that fetches is never replaced', async () => {
    const { client, made, events } = fakeClient([{ fetching: false }, { fetching: true }]);
    const bus = new KafkaBus({ brokers: '127.0.0.1:1', client, stallMs: 300 });
    const t0 = performance.now();
    const sub = await bus.subscribe('order.created', 'notifications', async () => undefined);
    expect(made).toHaveLength(1);
    await once(events, 'made');
    const waited = performance.now() - t0;
    expect(made).toHaveLength(2);
    expect(made[0].disconnected).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(300 - 1);
    expect(waited).toBeLessThan(300 + 75 + 2000 + 1000);
    // The replacement fetches: over 4 stall periods it is kept.
    await new Promise((r) => setTimeout(r, 1200));
    expect(made).toHaveLength(2);
    expect(made[1].disconnected).toBe(false);
    await sub.close();
    await bus.close();
    expect(made[1].disconnected).toBe(true);
  }, 15_000);

  test('a stalled consumer whose disconnect never answers is left behind, and replaced all the same', async () => {
    const { client, made, events } = fakeClient([{ fetching: false, disconnectHangs: true }, { fetching: true }]);
    const bus = new KafkaBus({ brokers: '127.0.0.1:1', client, stallMs: 200 });
    const sub = await bus.subscribe('order.created', 'notifications', async () => undefined);
    await once(events, 'made');
    expect(made).toHaveLength(2);
    await sub.close();
    await bus.close();
  }, 15_000);
});

describe('a Kafka publish that never settles', () => {
  test('rejects after publishTimeoutMs (200 ms), its producer is disconnected, and the next publish goes out on a new one', async () => {
    const producers: { sends: number; disconnected: boolean; hangs: boolean }[] = [];
    const admin = { connect: async () => undefined, createTopics: async () => true, disconnect: async () => undefined };
    const client = {
      admin: () => admin,
      producer: () => {
        const p = { sends: 0, disconnected: false, hangs: producers.length === 0 };
        producers.push(p);
        return {
          connect: async () => undefined,
          send: () => {
            p.sends++;
            return p.hangs ? new Promise(() => undefined) : Promise.resolve([]);
          },
          disconnect: async () => {
            p.disconnected = true;
          },
        };
      },
    } as unknown as Kafka;
    const bus = new KafkaBus({ brokers: '127.0.0.1:1', client, publishTimeoutMs: 200 });
    const msg = [{ id: 'e1', key: 'ORD-1', value: '{}' }];
    const t0 = performance.now();
    await expect(bus.publish('order.created', msg)).rejects.toThrow('kafka bus: publish of 1 message(s) to order.created failed: not settled within 200 ms');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200 - 1);
    await new Promise((r) => setImmediate(r));
    expect(producers[0]).toMatchObject({ sends: 1, disconnected: true });
    await bus.publish('order.created', msg);
    expect(producers).toHaveLength(2);
    expect(producers[1]).toMatchObject({ sends: 1, disconnected: false });
    await bus.close();
  });
});
