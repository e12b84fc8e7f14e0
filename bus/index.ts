export * from './types';
export { KafkaBus } from './kafka';
export { MemoryBus } from './memory';
export { RabbitBus, groupQueue } from './rabbitmq';
export { startMemoryBroker } from './memory-broker';

export { createBus, DEFAULT_KAFKA_BROKERS, DEFAULT_RABBITMQ_URL, type BusConfig } from './create';
