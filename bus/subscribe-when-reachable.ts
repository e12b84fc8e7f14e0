/**
 * A consumer's subscription that outlives a broker it cannot reach yet. In a pod, an app's broker connection
 * crosses its sidecar (world/broker-mesh.ts), and in the compose world the app starts before its sidecar (the
 * sidecar joins the app's network namespace and waits for it to be healthy): the first subscribe finds no
 * listener. Istio's answer is holdApplicationUntilProxyStarts; a pod without it needs an app that keeps trying.
 * The first attempt is awaited as before (a reachable broker: subscribed before the app reports ready); after a
 * failure it retries every `retryMs` in the background until it succeeds or is closed. Nothing is lost by
 * subscribing late: a new Kafka group reads from the beginning, and RabbitMQ's publisher declares the queue.
 */
import type { EventBus, MessageHandler, Subscription } from './types';

export interface WhenReachableOptions {
  retryMs?: number;
  onRetry?: (err: Error, attempt: number) => void;
  /** The timer (tests drive it). */
  schedule?: (fn: () => void, ms: number) => { cancel(): void };
}

export interface PendingSubscription {
  /** Resolves with the subscription once one attempt succeeds. */
  readonly ready: Promise<Subscription>;
  readonly subscribed: boolean;
  attempts: number;
  close(): Promise<void>;
}

const timer = (fn: () => void, ms: number): { cancel(): void } => {
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
};

export async function subscribeWhenReachable(bus: EventBus, topic: string, group: string, handler: MessageHandler, opts: WhenReachableOptions = {}): Promise<PendingSubscription> {
  const schedule = opts.schedule ?? timer;
  let sub: Subscription | undefined;
  let closed = false;
  let pending: { cancel(): void } | undefined;
  let resolve!: (s: Subscription) => void;
  const ready = new Promise<Subscription>((r) => (resolve = r));
  const state: PendingSubscription = {
    ready,
    get subscribed() {
      return sub !== undefined;
    },
    attempts: 0,
    async close() {
      closed = true;
      pending?.cancel();
      await sub?.close();
    },
  };
  const attempt = async (): Promise<void> => {
    state.attempts++;
    try {
      const s = await bus.subscribe(topic, group, handler);
      if (closed) return void (await s.close());
      sub = s;
      resolve(s);
    } catch (err) {
      if (closed) return;
      opts.onRetry?.(err as Error, state.attempts);
      pending = schedule(() => void attempt(), opts.retryMs ?? 1000);
    }
  };
  await attempt();
  return state;
}
