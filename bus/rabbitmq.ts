import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { dlqMessage, dlqTopic, sleepUnless } from './dispatch';
import { busWarn, errorText } from './log';
import { PoisonMessageError, type BusKind, type BusMessage, type EventBus, type MessageHandler, type ReceivedMessage, type Subscription } from './types';

/**
 * EventBus over RabbitMQ (amqplib). Topology, all durable:
 *   topic  → fanout exchange `<topic>`
 *   group  → queue `<topic>.group.<group>` bound to it (one delivery per group; created on the
 *            group's first subscribe — unlike Kafka, messages published before that are not kept
 *            for it; a publish no queue receives is logged)
 *   DLQ    → exchange `<topic>.dlq` with a queue `<topic>.dlq` that keeps dead letters
 * Publishing goes through a ConfirmChannel (resolves on broker confirms), messages persistent.
 * Each subscription has its own channel with bounded prefetch and handles one message at a time:
 * ack after success; on a transient error every unacked message of the channel is nacked with
 * requeue, so they come back in their original order (per-key order survives retries).
 *
 * Outages: one connection per bus; when it drops, publish rejects (the caller retries) and the bus
 * reconnects with backoff, re-declaring topology and re-attaching every live subscription.
 */
export interface RabbitBusOptions {
  url: string;
  clientId?: string;
  /** Unacked messages per subscription (default 32). */
  prefetch?: number;
}

const KEY_HEADER = 'x-key';

export function groupQueue(topic: string, group: string): string {
  return `${topic}.group.${group}`;
}

export class RabbitBus implements EventBus {
  readonly kind: BusKind = 'rabbitmq';
  private conn?: ChannelModel;
  private pubChannel?: Promise<ConfirmChannel>;
  private connecting?: Promise<ChannelModel>;
  private readonly declared = new Set<string>();
  private readonly subs = new Set<RabbitSubscription>();
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = 250;
  private closed = false;
  readonly prefetch: number;

  constructor(private readonly opts: RabbitBusOptions) {
    this.prefetch = opts.prefetch ?? 32;
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    if (this.closed) throw new Error('rabbitmq bus: publish after close()');
    if (messages.length === 0) return;
    try {
      const ch = await this.publisher();
      await this.declareTopic(ch, topic);
      await Promise.all(
        messages.map(
          (m) =>
            new Promise<void>((resolve, reject) => {
              ch.publish(
                topic,
                '',
                Buffer.from(m.value, 'utf8'),
                {
                  persistent: true,
                  mandatory: true,
                  messageId: m.id,
                  contentType: 'application/json',
                  headers: { ...(m.headers ?? {}), [KEY_HEADER]: m.key },
                },
                (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
              );
            }),
        ),
      );
    } catch (err) {
      throw new Error(`rabbitmq bus: publish of ${messages.length} message(s) to ${topic} failed: ${errorText(err)}`);
    }
  }

  async subscribe(topic: string, group: string, handler: MessageHandler): Promise<Subscription> {
    if (this.closed) throw new Error('rabbitmq bus: subscribe after close()');
    const sub = new RabbitSubscription(this, topic, group, handler, () => this.subs.delete(sub));
    const conn = await this.connection();
    await sub.attach(conn);
    this.subs.add(sub);
    return sub;
  }

  async consumerLag(topic: string, group: string): Promise<number> {
    const conn = await this.connection();
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      return (await ch.checkQueue(groupQueue(topic, group))).messageCount;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return 0;
      throw err;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await Promise.all([...this.subs].map((s) => s.close()));
    const conn = this.conn ?? (await this.connecting?.catch(() => undefined));
    this.conn = undefined;
    await conn?.close().catch(() => undefined);
  }

  /** Declares `<topic>` (and for a DLQ topic its keeping queue) once per connection. */
  async declareTopic(ch: Channel, topic: string): Promise<void> {
    if (this.declared.has(topic)) return;
    await ch.assertExchange(topic, 'fanout', { durable: true });
    if (topic.endsWith('.dlq')) {
      await ch.assertQueue(topic, { durable: true });
      await ch.bindQueue(topic, topic, '');
    }
    this.declared.add(topic);
  }

  /** The live connection, connecting if there is none (one attempt; rejects while the broker is down). */
  connection(): Promise<ChannelModel> {
    if (this.conn) return Promise.resolve(this.conn);
    if (this.closed) return Promise.reject(new Error('rabbitmq bus: closed'));
    if (!this.connecting) {
      this.connecting = this.openConnection().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async openConnection(): Promise<ChannelModel> {
    const conn = await amqp.connect(this.opts.url, {
      timeout: 3000,
      clientProperties: { connection_name: this.opts.clientId ?? 'meshlab' },
    });
    conn.on('error', (err: Error) => busWarn('rabbitmq', `connection error: ${err.message}`));
    conn.on('close', () => this.onConnectionLost(conn));
    if (this.closed) {
      await conn.close().catch(() => undefined);
      throw new Error('rabbitmq bus: closed');
    }
    this.conn = conn;
    this.declared.clear();
    this.reconnectDelay = 250;
    for (const sub of this.subs) {
      sub.attach(conn).catch((err) => busWarn('rabbitmq', `re-attaching ${sub.describe()} failed: ${errorText(err)}`));
    }
    return conn;
  }

  private onConnectionLost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pubChannel = undefined;
    this.declared.clear();
    if (this.closed) return;
    busWarn('rabbitmq', 'connection lost; reconnecting');
    this.scheduleReconnect();
  }

  /** Reconnects in the background (backoff 250 ms → 2 s) as long as subscriptions need it. */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.conn) return;
      this.connection().catch((err) => {
        busWarn('rabbitmq', `reconnect failed: ${errorText(err)}; retrying`);
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, 2000);
        this.scheduleReconnect();
      });
    }, this.reconnectDelay);
  }

  private publisher(): Promise<ConfirmChannel> {
    if (!this.pubChannel) {
      const made = this.connection().then(async (conn) => {
        const ch = await conn.createConfirmChannel();
        ch.on('error', (err: Error) => busWarn('rabbitmq', `publish channel error: ${err.message}`));
        ch.on('close', () => {
          if (this.pubChannel === made) this.pubChannel = undefined;
          this.declared.clear();
        });
        ch.on('return', (msg: ConsumeMessage) =>
          busWarn('rabbitmq', `message to ${msg.fields.exchange} reached no queue (no consumer group has subscribed yet)`),
        );
        return ch;
      });
      this.pubChannel = made;
      made.catch(() => {
        if (this.pubChannel === made) this.pubChannel = undefined;
      });
    }
    return this.pubChannel;
  }
}

interface Pending {
  channel: Channel;
  msg: ConsumeMessage;
}

class RabbitSubscription implements Subscription {
  private channel?: Channel;
  private consumerTag?: string;
  private readonly buffer: Pending[] = [];
  private pumping?: Promise<void>;
  private closing = false;
  /** messageId → failed attempts, for backoff and `redeliveries`. */
  private readonly attempts = new Map<string, number>();

  constructor(
    private readonly bus: RabbitBus,
    private readonly topic: string,
    private readonly group: string,
    private readonly handler: MessageHandler,
    private readonly onClosed: () => void,
  ) {}

  describe(): string {
    return `${this.topic}/${this.group}`;
  }

  private readonly isClosing = (): boolean => this.closing;

  /** Opens a channel on `conn`, declares the topology and starts consuming. */
  async attach(conn: ChannelModel): Promise<void> {
    if (this.closing) return;
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => busWarn('rabbitmq', `channel of ${this.describe()} error: ${err.message}`));
    ch.on('close', () => {
      if (this.channel === ch) this.channel = undefined;
      // Unacked messages of a closed channel go back to the queue by themselves.
      this.buffer.splice(0, this.buffer.length);
    });
    await ch.prefetch(this.bus.prefetch);
    const queue = groupQueue(this.topic, this.group);
    await ch.assertExchange(this.topic, 'fanout', { durable: true });
    await ch.assertQueue(queue, { durable: true });
    await ch.bindQueue(queue, this.topic, '');
    this.channel = ch;
    const { consumerTag } = await ch.consume(queue, (msg) => this.onDelivery(ch, msg), { noAck: false });
    this.consumerTag = consumerTag;
  }

  private onDelivery(channel: Channel, msg: ConsumeMessage | null): void {
    if (!msg) return; // consumer cancelled by the broker (queue deleted); the channel close re-attaches nothing
    this.buffer.push({ channel, msg });
    if (!this.pumping) this.pumping = this.pump().finally(() => (this.pumping = undefined));
  }

  /** Handles buffered deliveries one at a time, in order. */
  private async pump(): Promise<void> {
    while (this.buffer.length > 0 && !this.closing) {
      const item = this.buffer.shift()!;
      if (item.channel !== this.channel) continue; // its channel died; the broker redelivers it
      await this.handle(item);
    }
  }

  private async handle({ channel, msg }: Pending): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(msg.properties.headers ?? {})) {
      if (k !== KEY_HEADER && v !== undefined && v !== null) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    }
    const id = typeof msg.properties.messageId === 'string' ? msg.properties.messageId : `${this.topic}-${msg.fields.deliveryTag}`;
    const failures = this.attempts.get(id) ?? 0;
    const received: ReceivedMessage = {
      id,
      key: String(msg.properties.headers?.[KEY_HEADER] ?? ''),
      value: msg.content.toString('utf8'),
      headers,
      topic: this.topic,
      redeliveries: failures > 0 ? failures : msg.fields.redelivered ? 1 : 0,
    };
    try {
      await this.handler(received);
    } catch (err) {
      if (err instanceof PoisonMessageError || (err instanceof Error && err.name === 'PoisonMessageError')) {
        try {
          await this.bus.publish(dlqTopic(this.topic), [dlqMessage(received, err.message)]);
        } catch (dlqErr) {
          busWarn('rabbitmq', `DLQ publish for ${this.topic} failed: ${errorText(dlqErr)}; requeueing`);
          await this.requeueAll(channel, id, failures);
          return;
        }
        this.ack(channel, msg, id);
        return;
      }
      await this.requeueAll(channel, id, failures);
      return;
    }
    this.ack(channel, msg, id);
  }

  private ack(channel: Channel, msg: ConsumeMessage, id: string): void {
    this.attempts.delete(id);
    try {
      channel.ack(msg);
    } catch (err) {
      busWarn('rabbitmq', `ack on ${this.describe()} failed (${errorText(err)}); the message will be redelivered`);
    }
  }

  /**
   * After a backoff, nacks every unacked message of the channel with requeue and drops the local
   * buffer: RabbitMQ puts them back at their original positions, so they return in order.
   */
  private async requeueAll(channel: Channel, id: string, failures: number): Promise<void> {
    this.attempts.set(id, failures + 1);
    if (this.attempts.size > 10_000) this.attempts.clear();
    await sleepUnless(Math.min(50 * 2 ** failures, 2000), this.isClosing);
    this.buffer.splice(0, this.buffer.length);
    try {
      channel.nackAll(true);
    } catch {
      // channel already closed: its unacked messages are requeued by the broker
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const ch = this.channel;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => undefined);
    await this.pumping;
    this.channel = undefined;
    await ch?.close().catch(() => undefined); // returns buffered, unacked messages to the queue
    this.onClosed();
  }
}
