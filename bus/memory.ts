import { randomUUID } from 'node:crypto';
import { dispatch, dlqMessage, dlqTopic, sleepUnless } from './dispatch';
import { busWarn, errorText } from './log';
import type { FetchResponse, PublishResponse, StatsResponse } from './memory-protocol';
import type { BusKind, BusMessage, EventBus, MessageHandler, ReceivedMessage, Subscription } from './types';

/**
 * EventBus over the memory broker process (bus/memory-broker.ts). A consumer keeps its position in
 * memory, commits after every handled message, and on a new generation (it just became the group's
 * owner, or was rebalanced away and back) restarts from the committed offset — as a Kafka consumer.
 */
export class MemoryBus implements EventBus {
  readonly kind: BusKind = 'memory';
  private readonly base: string;
  private readonly subs = new Set<MemorySubscription>();
  private closed = false;

  constructor(
    url: string,
    private readonly clientId = 'meshlab',
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    if (this.closed) throw new Error('memory bus: publish after close()');
    if (messages.length === 0) return;
    const res = await this.post<PublishResponse>('/publish', { topic, messages });
    if (res.offsets.length !== messages.length) {
      throw new Error(`memory bus: broker acknowledged ${res.offsets.length} of ${messages.length} messages`);
    }
  }

  async subscribe(topic: string, group: string, handler: MessageHandler): Promise<Subscription> {
    if (this.closed) throw new Error('memory bus: subscribe after close()');
    const sub = new MemorySubscription(this, topic, group, `${this.clientId}-${randomUUID()}`, handler);
    this.subs.add(sub);
    sub.start(() => this.subs.delete(sub));
    return sub;
  }

  async consumerLag(topic: string, group: string): Promise<number> {
    const stats = await this.get<StatsResponse>('/stats');
    const t = stats.topics[topic];
    if (!t) return 0;
    return t.groups[group]?.lag ?? t.end;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subs].map((s) => s.close()));
  }

  /** POSTs JSON; rejects with the broker's error text on a non-2xx answer. `status` is on the error. */
  async post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(this.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    return this.answer<T>(res, path);
  }

  async get<T>(path: string): Promise<T> {
    return this.answer<T>(await fetch(this.base + path), path);
  }

  private async answer<T>(res: Response, path: string): Promise<T> {
    const text = await res.text();
    if (!res.ok) {
      const err = new Error(`memory broker ${this.base}${path} answered ${res.status}: ${text}`) as Error & { status: number };
      err.status = res.status;
      throw err;
    }
    return JSON.parse(text) as T;
  }
}

class MemorySubscription implements Subscription {
  private closing = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private generation = 0;
  private position = 0;

  constructor(
    private readonly bus: MemoryBus,
    private readonly topic: string,
    private readonly group: string,
    private readonly member: string,
    private readonly handler: MessageHandler,
  ) {}

  start(onEnd: () => void): void {
    this.loop = this.run().finally(onEnd);
  }

  async close(): Promise<void> {
    if (this.closing) return this.loop;
    this.closing = true;
    this.abort.abort();
    await this.loop;
    await this.bus.post('/leave', { topic: this.topic, group: this.group, member: this.member }).catch(() => undefined);
  }

  private readonly isClosing = (): boolean => this.closing;

  private async run(): Promise<void> {
    while (!this.closing) {
      let batch: FetchResponse;
      try {
        batch = await this.bus.post<FetchResponse>(
          '/fetch',
          { topic: this.topic, group: this.group, member: this.member, generation: this.generation, from: this.position, max: 100, waitMs: 1000 },
          this.abort.signal,
        );
      } catch (err) {
        if (this.closing) return;
        busWarn('memory', `fetch ${this.topic}/${this.group} failed: ${errorText(err)}; retrying`);
        await sleepUnless(500, this.isClosing);
        continue;
      }
      if (!batch.owner) {
        this.generation = 0;
        continue;
      }
      if (batch.generation !== this.generation) {
        this.generation = batch.generation;
        this.position = batch.from;
      }
      for (const m of batch.messages) {
        const received: ReceivedMessage = { id: m.id, key: m.key, value: m.value, headers: m.headers, topic: this.topic, redeliveries: m.redeliveries };
        if (!(await this.handleOne(m.offset, received))) break;
      }
    }
  }

  /** Handles and commits one message; false when the batch must be abandoned (closing or rebalanced). */
  private async handleOne(offset: number, clean: ReceivedMessage): Promise<boolean> {
    const outcome = await dispatch(clean, this.handler, { isClosing: this.isClosing });
    if (outcome.kind === 'aborted') return false;
    if (outcome.kind === 'poison') {
      const dead = dlqMessage(clean, outcome.reason);
      while (true) {
        try {
          await this.bus.publish(dlqTopic(this.topic), [dead]);
          break;
        } catch (err) {
          if (this.closing) return false;
          busWarn('memory', `DLQ publish for ${this.topic} failed: ${errorText(err)}; retrying`);
          await sleepUnless(500, this.isClosing);
        }
      }
    }
    this.position = offset + 1;
    try {
      await this.bus.post('/commit', { topic: this.topic, group: this.group, member: this.member, generation: this.generation, offset: this.position });
    } catch (err) {
      if ((err as { status?: number }).status === 409) {
        this.generation = 0; // lost ownership: refetch from the committed offset
        return false;
      }
      busWarn('memory', `commit ${this.topic}/${this.group} failed: ${errorText(err)} (a later commit covers it)`);
    }
    return true;
  }
}
