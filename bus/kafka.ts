import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type IHeaders, type KafkaMessage, type LogEntry, type Producer } from 'kafkajs';
import { captureSocketFactory, type CaptureTable } from './capture';
import { dispatch, dlqMessage, dlqTopic, sleepUnless } from './dispatch';
import { busWarn, errorText } from './log';
import type { BusKind, BusMessage, EventBus, MessageHandler, ReceivedMessage, Subscription } from './types';

/**
 * EventBus over Apache Kafka (kafkajs). Publishing uses an idempotent producer with acks=-1 and the
 * message key as partition key (per-key order); the event id travels in the `x-message-id` header.
 * Consumers run with autoCommit off and commit each offset after the handler resolved; a transient
 * handler error is retried in place (the partition waits), a PoisonMessageError goes to `<topic>.dlq`.
 *
 * Broker outages: a failed send discards the producer (a fresh one is made on the next publish, so
 * no stale idempotence sequence survives), publish rejects and the caller retries; consumers are
 * restarted by kafkajs on retriable crashes, and by us on the others.
 */
export interface KafkaBusOptions {
  /** "host:port,host:port". */
  brokers: string;
  clientId?: string;
  /** Partitions for topics this bus creates (default 3). */
  partitions?: number;
  /** The pod's capture (bus/capture.ts): broker addresses dialled through the sidecar. */
  capture?: CaptureTable;
  /**
   * A consumer whose fetch loop has been silent this long (no fetch started, no message handled) is replaced
   * (default 30 s): kafkajs' consumer can stop fetching after broker restarts without a crash event (kafkajs#659).
   */
  stallMs?: number;
  /**
   * A publish not settled by then rejects and its producer is dropped (default 45 s, past kafkajs' own retries of a
   * 10 s request): a send that never settles would hold the orders outbox relay, and every later event, for good.
   */
  publishTimeoutMs?: number;
  /** A kafkajs client to use instead of one made from `brokers` (tests). */
  client?: Kafka;
}

/** How long a replaced consumer's disconnect may take before it is left behind (a stalled one may never answer). */
const DISCONNECT_WAIT_MS = 5000;

const MESSAGE_ID_HEADER = 'x-message-id';

export class KafkaBus implements EventBus {
  readonly kind: BusKind = 'kafka';
  private readonly kafka: Kafka;
  private readonly partitions: number;
  private producer?: Promise<Producer>;
  private admin?: Promise<Admin>;
  private readonly knownTopics = new Set<string>();
  private readonly subs = new Set<KafkaSubscription>();
  private closed = false;
  /** See KafkaBusOptions.stallMs. */
  readonly stallMs: number;
  private readonly publishTimeoutMs: number;

  constructor(opts: KafkaBusOptions) {
    const brokers = opts.brokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
    if (brokers.length === 0) throw new Error(`kafka bus: no brokers in url "${opts.brokers}"; expected e.g. "127.0.0.1:9092"`);
    this.partitions = opts.partitions ?? 3;
    this.stallMs = opts.stallMs ?? 30_000;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 45_000;
    this.kafka = opts.client ?? new Kafka({
      clientId: opts.clientId ?? 'meshlab',
      brokers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        // We cap idempotent-producer retries on purpose (publish must reject during an outage; the
        // outbox retries with a fresh producer), so kafkajs' warning about it is noise.
        if (entry.log.message.includes('Limiting retries for the idempotent producer')) return;
        busWarn('kafka', `${entry.namespace || entry.label}: ${entry.log.message}`);
      },
      ...(opts.capture ? { socketFactory: captureSocketFactory(opts.capture) } : {}),
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { initialRetryTime: 200, maxRetryTime: 2000, retries: 3 },
    });
  }

  /** Internal: the kafkajs client, for subscriptions. */
  get client(): Kafka {
    return this.kafka;
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    if (this.closed) throw new Error('kafka bus: publish after close()');
    if (messages.length === 0) return;
    await this.ensureTopic(topic);
    const producerPromise = this.getProducer();
    let timer: NodeJS.Timeout | undefined;
    try {
      const sent = producerPromise.then((producer) =>
        producer.send({
          topic,
          acks: -1,
          messages: messages.map((m) => ({ key: m.key, value: m.value, headers: { ...(m.headers ?? {}), [MESSAGE_ID_HEADER]: m.id } })),
        }),
      );
      sent.catch(() => undefined); // settled late, after the deadline: nobody waits for it
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not settled within ${this.publishTimeoutMs} ms`)), this.publishTimeoutMs);
      });
      await Promise.race([sent, deadline]);
    } catch (err) {
      this.dropProducer(producerPromise);
      throw new Error(`kafka bus: publish of ${messages.length} message(s) to ${topic} failed: ${errorText(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async subscribe(topic: string, group: string, handler: MessageHandler): Promise<Subscription> {
    if (this.closed) throw new Error('kafka bus: subscribe after close()');
    await this.ensureTopic(topic);
    const sub = new KafkaSubscription(this, topic, group, handler, () => this.subs.delete(sub));
    this.subs.add(sub);
    try {
      await sub.start();
    } catch (err) {
      this.subs.delete(sub);
      throw err;
    }
    return sub;
  }

  async consumerLag(topic: string, group: string): Promise<number> {
    const admin = await this.getAdmin();
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
    const byPartition = new Map<number, number>();
    for (const p of committed[0]?.partitions ?? []) byPartition.set(p.partition, Number(p.offset));
    let lag = 0;
    for (const p of ends) {
      const c = byPartition.get(p.partition) ?? -1;
      lag += Number(p.high) - (c < 0 ? Number(p.low) : c);
    }
    return lag;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subs].map((s) => s.close()));
    const producer = this.producer;
    const admin = this.admin;
    this.producer = undefined;
    this.admin = undefined;
    await Promise.all([
      producer?.then((p) => p.disconnect()).catch(() => undefined),
      admin?.then((a) => a.disconnect()).catch(() => undefined),
    ]);
  }

  /** Creates the topic (and waits for its leaders) once per bus instance; existing topics are fine. */
  async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    const adminPromise = this.getAdmin();
    try {
      const admin = await adminPromise;
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: this.partitions, replicationFactor: 1 }] });
      this.knownTopics.add(topic);
    } catch (err) {
      if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') {
        this.knownTopics.add(topic);
        return;
      }
      this.admin = this.admin === adminPromise ? undefined : this.admin;
      adminPromise.then((a) => a.disconnect()).catch(() => undefined);
      throw new Error(`kafka bus: cannot create topic ${topic}: ${errorText(err)}`);
    }
  }

  private getProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        createPartitioner: Partitioners.DefaultPartitioner, // murmur2 by key, as the Java client
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { initialRetryTime: 200, maxRetryTime: 1000, retries: 3 },
      });
      const ready = producer.connect().then(() => producer);
      this.producer = ready;
      ready.catch(() => this.dropProducer(ready));
    }
    return this.producer;
  }

  private dropProducer(which: Promise<Producer>): void {
    if (this.producer === which) this.producer = undefined;
    which.then((p) => p.disconnect()).catch(() => undefined);
  }

  private getAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin({ retry: { initialRetryTime: 200, maxRetryTime: 1000, retries: 3 } });
      const ready = admin.connect().then(() => admin);
      this.admin = ready;
      ready.catch(() => {
        if (this.admin === ready) this.admin = undefined;
      });
    }
    return this.admin;
  }
}

class KafkaSubscription implements Subscription {
  private consumer?: Consumer;
  private closing = false;
  private restarting?: Promise<void>;
  /** The eachMessage call in progress: close() waits for its commit (kafkajs' stop does not). */
  private inFlight?: Promise<void>;
  /** "partition:offset" → times handed to the handler, for `redeliveries`. */
  private readonly seen = new Map<string, number>();
  /** When the consumer last showed life: a fetch started, a message began or ended, a handler retry heartbeat. */
  private lastProgress = Date.now();
  private watchdog?: NodeJS.Timeout;

  constructor(
    private readonly bus: KafkaBus,
    private readonly topic: string,
    private readonly group: string,
    private readonly handler: MessageHandler,
    private readonly onClosed: () => void,
  ) {}

  private readonly isClosing = (): boolean => this.closing;

  async start(): Promise<void> {
    const consumer = this.bus.client.consumer({
      groupId: this.group,
      // 6 s (the broker minimum): after an outage a crashed member is evicted fast so the group
      // rebalances sooner; handlers must finish (or heartbeat via retries) within it.
      sessionTimeout: 6000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
      retry: { initialRetryTime: 300, maxRetryTime: 3000, retries: 10 },
    });
    this.consumer = consumer;
    this.lastProgress = Date.now();
    consumer.on(consumer.events.FETCH_START, this.progress);
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart && !this.closing) {
        busWarn('kafka', `consumer ${this.topic}/${this.group} crashed (${errorText(event.payload.error)}); recreating it`);
        this.scheduleRestart(consumer);
      }
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 1, eachMessage: (p) => this.track(this.onMessage(p.partition, p.message, p.heartbeat)) });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw new Error(`kafka bus: cannot consume ${this.topic} as group ${this.group}: ${errorText(err)}`);
    }
    this.armWatchdog();
  }

  private readonly progress = (): void => {
    this.lastProgress = Date.now();
  };

  /**
   * Replaces a consumer that stopped fetching without a word: no fetch started and no message handled for
   * `stallMs`. A consumer kafkajs is restarting (after a CRASH with restart) fetches again within seconds; one that
   * is down with the broker is replaced every `stallMs` until the broker is back, which costs nothing more.
   */
  private armWatchdog(): void {
    if (this.watchdog) return;
    const stallMs = this.bus.stallMs;
    this.watchdog = setInterval(() => {
      if (this.closing || this.restarting || !this.consumer) return;
      const silent = Date.now() - this.lastProgress;
      if (silent < stallMs) return;
      busWarn('kafka', `consumer ${this.topic}/${this.group} has not fetched for ${Math.round(silent / 1000)} s; replacing it`);
      this.lastProgress = Date.now();
      this.scheduleRestart(this.consumer);
    }, Math.max(50, Math.floor(stallMs / 4)));
    this.watchdog.unref();
  }

  /** Replaces a consumer kafkajs gave up on, retrying every 2 s until it runs or we close. */
  private scheduleRestart(dead: Consumer): void {
    if (this.restarting) return;
    this.restarting = (async () => {
      // A stalled consumer's disconnect may never settle: it is left behind after DISCONNECT_WAIT_MS.
      await Promise.race([dead.disconnect().catch(() => undefined), sleepUnless(DISCONNECT_WAIT_MS, this.isClosing)]);
      while (!this.closing) {
        await sleepUnless(2000, this.isClosing);
        if (this.closing) break;
        try {
          await this.start();
          break;
        } catch (err) {
          busWarn('kafka', `restarting consumer ${this.topic}/${this.group} failed: ${errorText(err)}`);
        }
      }
    })().finally(() => {
      this.restarting = undefined;
    });
  }

  private track(work: Promise<void>): Promise<void> {
    const settled = work.catch(() => undefined);
    this.inFlight = settled;
    void settled.finally(() => {
      if (this.inFlight === settled) this.inFlight = undefined;
    });
    return work;
  }

  private async onMessage(partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    if (this.closing) return; // not handled, not committed: the group's next consumer gets it
    const slot = `${partition}:${message.offset}`;
    const before = this.seen.get(slot) ?? 0;
    this.seen.set(slot, before + 1);
    const headers = toStringHeaders(message.headers);
    const id = headers[MESSAGE_ID_HEADER] ?? `${this.topic}-${partition}-${message.offset}`;
    delete headers[MESSAGE_ID_HEADER];
    const received: ReceivedMessage = {
      id,
      key: message.key?.toString('utf8') ?? '',
      value: message.value?.toString('utf8') ?? '',
      headers,
      topic: this.topic,
      redeliveries: before,
    };
    // A heartbeat failure (rebalance) propagates: kafkajs rejoins and refetches from the committed offset.
    this.progress();
    const outcome = await dispatch(received, this.handler, {
      isClosing: this.isClosing,
      onRetry: () => {
        this.progress();
        return heartbeat();
      },
    });
    this.progress();
    if (outcome.kind === 'aborted') return; // autoCommit is off: nothing is committed
    if (outcome.kind === 'poison') {
      while (true) {
        try {
          await this.bus.publish(dlqTopic(this.topic), [dlqMessage(received, outcome.reason)]);
          break;
        } catch (err) {
          if (this.closing) return;
          busWarn('kafka', `DLQ publish for ${this.topic} failed: ${errorText(err)}; retrying`);
          await heartbeat();
          await sleepUnless(500, this.isClosing);
        }
      }
    }
    try {
      await this.consumer?.commitOffsets([{ topic: this.topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      this.seen.delete(slot);
    } catch (err) {
      // Not fatal: the message is delivered again unless a later commit covers it (at-least-once).
      busWarn('kafka', `commit ${this.topic}/${this.group} p${partition} failed: ${errorText(err)}`);
    }
    if (this.seen.size > 10_000) this.seen.clear();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.watchdog);
    await this.restarting;
    await this.inFlight;
    await this.consumer?.disconnect().catch(() => undefined);
    this.onClosed();
  }
}

function toStringHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
