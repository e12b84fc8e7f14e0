import { createBus } from '../../bus';
import { tcpReachable } from '../../bus/testing/broker-control';
import type { EventBus } from '../../bus/types';
import { cleanupRabbit } from './cleanup';
import { contractSuite } from './contract-suite';
import { brokerReachable, firstHostPort, mustHaveBrokers } from './helpers';
import { startOwnBroker } from '../../scenarios/runner/own-broker';
import { runOutage } from './outage-scenario';

const URL_ = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const parsed = new URL(URL_);
const { host, port } = firstHostPort(`${parsed.hostname}:${parsed.port || 5672}`, 5672);
const reachable = brokerReachable('RabbitMQ', host, port);

if (!reachable && mustHaveBrokers()) {
  test(`RabbitMQ must be reachable at ${host}:${port} when CI=true`, () => {
    throw new Error(`RabbitMQ is not reachable at ${host}:${port}; start it (rabbitmqctl start_app) or set RABBITMQ_URL.`);
  });
}

(reachable ? describe : describe.skip)(`rabbitmq bus against ${host}:${port}`, () => {
  let bus: EventBus;
  beforeAll(() => {
    process.env.MESHLAB_BUS_LOG ??= 'silent';
    bus = createBus({ kind: 'rabbitmq', url: URL_, clientId: 'contract' });
  });
  afterAll(async () => {
    await bus?.close();
    await cleanupRabbit(URL_);
  });

  contractSuite(() => bus, { timeoutMs: 15_000 });

  test('a node stopped for 10 s mid-traffic (rabbitmqctl stop_app): all 1,000 ids consumed after recovery, and the shared node never stopped', async () => {
    // The outage runs on a RabbitMQ node of the test's own (free ports, its own cookie and data): stop_app on the
    // machine's node left it stopped for every later test, and for CI, whenever a run was cut off mid-outage.
    const own = await startOwnBroker('rabbitmq', () => undefined);
    const outageBus = createBus({ kind: 'rabbitmq', url: own.url, clientId: 'outage' });
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
      console.log(`rabbitmq outage: ${JSON.stringify(result)}`);
      expect(result.distinctConsumed).toBe(1000);
      expect(result.downMs).toBeGreaterThanOrEqual(10_000);
      expect(result.publishFailures).toBeGreaterThan(0);
      expect(sharedUpDuringOutage).toBe(true);
    } finally {
      await outageBus.close().catch(() => undefined);
      await own.close();
    }
  }, 180_000);
});
