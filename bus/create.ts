import type { BusKind, EventBus } from './types';

export interface BusConfig {
  kind: BusKind;
  /**
   * memory: the memory broker's http://127.0.0.1:PORT; kafka: "127.0.0.1:9092[,host:port…]";
   * rabbitmq: amqp://guest:guest@127.0.0.1:5672. Kafka and RabbitMQ default to those local addresses.
   */
  url?: string;
  /** Names this process in broker-side views (Kafka client id, RabbitMQ connection name). */
  clientId?: string;
}

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';
export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

/**
 * Builds the adapter for `cfg.kind`; connections open lazily on the first publish/subscribe. Each
 * adapter's client library loads only when chosen, so a service on the memory bus never pays for
 * loading kafkajs or amqplib at startup.
 */
export function createBus(cfg: BusConfig): EventBus {
  switch (cfg.kind) {
    case 'memory': {
      if (!cfg.url) throw new Error('bus kind "memory" needs url, the memory broker address, e.g. http://127.0.0.1:4222');
      const { MemoryBus } = require('./memory') as typeof import('./memory');
      return new MemoryBus(cfg.url, cfg.clientId);
    }
    case 'kafka': {
      const { KafkaBus } = require('./kafka') as typeof import('./kafka');
      const { captureFromEnv } = require('./capture') as typeof import('./capture');
      return new KafkaBus({ brokers: cfg.url ?? DEFAULT_KAFKA_BROKERS, clientId: cfg.clientId, capture: captureFromEnv() });
    }
    case 'rabbitmq': {
      const { RabbitBus } = require('./rabbitmq') as typeof import('./rabbitmq');
      const { captureFromEnv, redirectUrl } = require('./capture') as typeof import('./capture');
      const capture = captureFromEnv();
      const url = cfg.url ?? DEFAULT_RABBITMQ_URL;
      return new RabbitBus({ url: capture ? redirectUrl(capture, url) : url, clientId: cfg.clientId });
    }
    default:
      throw new Error(`unknown bus kind "${String((cfg as { kind: unknown }).kind)}"; expected memory, kafka or rabbitmq`);
  }
}
