/**
 * The event-bus contract every adapter (memory, kafka, rabbitmq) implements.
 *
 * Delivery is at-least-once: a publisher's promise resolves only once the broker has acknowledged
 * the messages (Kafka acks=-1, RabbitMQ publisher confirms, the memory broker's 200), and a
 * consumer's message is committed/acked only after its handler resolved. Consumers make that
 * exactly-once in effect by deduplicating on `id` in their own database.
 */
export interface BusMessage {
  /** Globally unique event id; consumers deduplicate on it. */
  id: string;
  /** Partitioning / ordering key (e.g. the order id): messages with one key are delivered in order. */
  key: string;
  /** The event body, JSON text. */
  value: string;
  /** Optional headers (strings only). */
  headers?: Record<string, string>;
}

export interface ReceivedMessage extends BusMessage {
  topic: string;
  /** How many times this message has been handed to a handler of this group before (best effort). */
  redeliveries?: number;
}

/** Thrown by a handler for a message that can never be processed: it goes to `<topic>.dlq` with the reason. */
export class PoisonMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoisonMessageError';
  }
}

export type MessageHandler = (message: ReceivedMessage) => Promise<void>;

export interface Subscription {
  /** Stops consuming; in-flight handlers finish first. */
  close(): Promise<void>;
}

export interface EventBus {
  /** Which adapter this is: 'memory' | 'kafka' | 'rabbitmq'. */
  readonly kind: BusKind;
  /** Publishes in order; resolves after the broker acknowledged every message, rejects otherwise. */
  publish(topic: string, messages: BusMessage[]): Promise<void>;
  /**
   * Consumes `topic` as consumer group `group` (one delivery per group). A handler that resolves
   * commits the message; one that throws PoisonMessageError sends it to `<topic>.dlq` (headers
   * `x-dlq-reason`, `x-original-topic`) and commits it; any other error leaves it uncommitted to be
   * delivered again.
   */
  subscribe(topic: string, group: string, handler: MessageHandler): Promise<Subscription>;
  /** Closes connections; pending publishes reject. */
  close(): Promise<void>;
  /**
   * Messages of `topic` not yet committed by `group` (Kafka: high watermark minus committed offset
   * summed over partitions; RabbitMQ: ready messages in the group's queue; memory: log end minus
   * committed). Meant for a prom-client gauge; rejects while the broker is unreachable.
   */
  consumerLag(topic: string, group: string): Promise<number>;
}

export type BusKind = 'memory' | 'kafka' | 'rabbitmq';

export const DLQ_SUFFIX = '.dlq';
