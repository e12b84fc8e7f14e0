import { createBus } from '../../bus';
import { tcpReachable } from '../../bus/testing/broker-control';
import type { EventBus } from '../../bus/types';
import { cleanupKafka } from './cleanup';
import { contractSuite } from './contract-suite';
import { brokerReachable, firstHostPort, mustHaveBrokers } from './helpers';
import { startOwnBroker } from '../../scenarios/runner/own-broker';
import { runOutage } from './outage-scenario';

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const { host, port } = firstHostPort(BROKERS, 9092);
const reachable = brokerReachable('Kafka', host, port);

if (!reachable && mustHaveBrokers()) {
  test(`Kafka must be reachable at ${BROKERS} when CI=true`, () => {
    throw new Error(`Kafka is not reachable at ${BROKERS}; run scripts/kafka start before the tests (or set KAFKA_BROKERS).`);
  });
}

(reachable ? describe : describe.skip)(`kafka bus against ${BROKERS}`, () => {
  let bus: EventBus;
  beforeAll(() => {
    process.env.MESHLAB_BUS_LOG ??= 'silent';
    bus = createBus({ kind: 'kafka', url: BROKERS, clientId: 'contract' });
  });
  afterAll(async () => {
    await bus?.close();
    await cleanupKafka(BROKERS);
  });

  contractSuite(() => bus, { timeoutMs: 30_000 });

  test('a broker stopped for 10 s mid-traffic: all 1,000 ids consumed after recovery, and the shared broker never stopped', async () => {
    // The outage runs on a broker of the test's own (scripts/kafka on free ports): stopping the machine's shared
    // broker left it down for every later test, and for CI, whenever a run was cut off mid-outage.
    const own = await startOwnBroker('kafka', () => undefined);
    const outageBus = createBus({ kind: 'kafka', url: own.url, clientId: 'outage' });
    let sharedUpDuringOutage: boolean | undefined;
    try {
      const result = await runOutage(
        outageBus,
        {
          stop: async () => {
            await own.stop();
            sharedUpDuringOutage = await tcpReachable(host, port);
          },
          start: () => own.start(),
        },
        { downMs: 10_000, consumeTimeoutMs: 60_000 },
      );
      console.log(`kafka outage: ${JSON.stringify(result)}`);
      expect(result.distinctConsumed).toBe(1000);
      expect(result.downMs).toBeGreaterThanOrEqual(10_000);
      expect(result.publishFailures).toBeGreaterThan(0); // the outage really hit the publisher
      expect(sharedUpDuringOutage).toBe(true);
    } finally {
      await outageBus.close().catch(() => undefined);
      await own.close();
    }
  }, 180_000);
});
