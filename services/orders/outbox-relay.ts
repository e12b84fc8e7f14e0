import type { EventBus } from '../../bus/types';
import type { OrderStore } from './store';
import type { MessagingTracer } from '../shared/tracing';

export interface RelayOptions {
  batch?: number;
  leaseMs?: number;
  /** Idle poll interval: catches rows written by other instances and retries after a broker outage. */
  pollMs?: number;
  maxBackoffMs?: number;
  log?: (msg: string) => void;
  /** PRODUCER spans of the events published (their context goes in the message's traceparent header). */
  tracer?: MessagingTracer;
}

/**
 * Publishes the outbox: claims unsent rows in order, publishes them, and marks them sent only after
 * the broker acknowledged. A failed publish releases the rows to be tried again with backoff, so a
 * broker outage delays events but loses none; order per key holds because rows go out in sequence.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private failures = 0;
  published = 0;

  constructor(
    private readonly store: OrderStore,
    private readonly bus: EventBus,
    private readonly opts: RelayOptions = {},
  ) {}

  start(): void {
    this.wake();
  }

  /** Runs the relay now (after a new row was written) instead of at the next poll. */
  wake(): void {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  private async run(): Promise<void> {
    this.running = true;
    let delay = this.opts.pollMs ?? 250;
    try {
      for (;;) {
        if (this.stopped) return;
        const rows = this.store.claimOutbox(this.opts.batch ?? 100, this.opts.leaseMs ?? 15_000);
        if (rows.length === 0) break;
        const byTopic = new Map<string, typeof rows>();
        for (const r of rows) (byTopic.get(r.topic) ?? byTopic.set(r.topic, []).get(r.topic)!).push(r);
        try {
          for (const [topic, list] of byTopic) {
            const spans = list.map((r) => this.opts.tracer?.start('PRODUCER', topic, r.event_id, r.traceparent ?? undefined));
            try {
              await this.bus.publish(topic, list.map((r, i) => ({ id: r.event_id, key: r.key, value: r.payload, ...(spans[i]?.traceparent ? { headers: { traceparent: spans[i]!.traceparent! } } : {}) })));
            } catch (err) {
              for (const s of spans) s?.end((err as Error).message);
              throw err;
            }
            for (const s of spans) s?.end();
            this.store.markSent(list.map((r) => r.seq));
            this.published += list.length;
          }
          if (this.failures > 0) this.opts.log?.(`outbox relay: the bus is back after ${this.failures} failed attempt(s)`);
          this.failures = 0;
        } catch (err) {
          this.store.release(rows.map((r) => r.seq));
          this.failures++;
          if (this.failures === 1) this.opts.log?.(`outbox relay: publish failed, events wait in the outbox: ${(err as Error).message}`);
          delay = Math.min(100 * 2 ** this.failures, this.opts.maxBackoffMs ?? 2000);
          break;
        }
      }
    } finally {
      this.running = false;
    }
    if (!this.stopped) this.timer = setTimeout(() => this.wake(), delay);
  }
}
