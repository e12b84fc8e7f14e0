import { DLQ_SUFFIX, PoisonMessageError, type BusMessage, type MessageHandler, type ReceivedMessage } from './types';

/**
 * Handler dispatch shared by the log-based adapters (memory, Kafka): a message is retried *in place*
 * after a transient error, so later messages of the same partition wait and per-key order holds —
 * the same thing a Kafka consumer gets by seeking back to its uncommitted offset.
 */

export type DispatchOutcome =
  /** The handler resolved: commit. */
  | { kind: 'handled' }
  /** The handler threw PoisonMessageError: publish `dlqMessage` to `<topic>.dlq`, then commit. */
  | { kind: 'poison'; reason: string }
  /** The subscription closed while the handler kept failing: do not commit (it is delivered again). */
  | { kind: 'aborted' };

export interface DispatchOptions {
  /** True once the subscription is closing; stops the retry loop. */
  isClosing(): boolean;
  /** Called between attempts (Kafka sends a heartbeat so the group keeps the partition). */
  onRetry?(error: unknown, attempt: number): Promise<void> | void;
  /** First retry delay; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export async function dispatch(
  message: ReceivedMessage,
  handler: MessageHandler,
  opts: DispatchOptions,
): Promise<DispatchOutcome> {
  let delay = opts.initialBackoffMs ?? 50;
  const maxDelay = opts.maxBackoffMs ?? 2000;
  const base = message.redeliveries ?? 0;
  for (let attempt = 0; ; attempt++) {
    try {
      await handler(attempt === 0 ? message : { ...message, redeliveries: base + attempt });
      return { kind: 'handled' };
    } catch (err) {
      if (err instanceof PoisonMessageError || (err instanceof Error && err.name === 'PoisonMessageError')) {
        return { kind: 'poison', reason: err.message };
      }
      if (opts.isClosing()) return { kind: 'aborted' };
      await opts.onRetry?.(err, attempt + 1);
      await sleepUnless(delay, opts.isClosing);
      if (opts.isClosing()) return { kind: 'aborted' };
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

/** The message sent to `<topic>.dlq` for a poison message: same id/key/value, reason in headers. */
export function dlqMessage(message: ReceivedMessage, reason: string): BusMessage {
  return {
    id: message.id,
    key: message.key,
    value: message.value,
    headers: { ...(message.headers ?? {}), 'x-dlq-reason': reason, 'x-original-topic': message.topic },
  };
}

export function dlqTopic(topic: string): string {
  return topic + DLQ_SUFFIX;
}

/** Sleeps `ms`, waking early (checked every 50 ms) once `stop()` turns true. */
export async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
  }
}
