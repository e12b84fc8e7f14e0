import { runSoak, type SoakReport } from '../../soak/soak';
import { printReport } from '../../soak/main';

/**
 * The CI chaos soak: 2 minutes, seed 21, 5 orders/s, a fault every few seconds and a config change
 * every 3 s, on a Kafka of the soak's own so that broker outages are among the faults; every invariant
 * must hold after the heal (see soak/soak.ts for what is checked).
 */
const run = process.env.CI === 'true' ? test : test.skip;

describe('chaos soak (2 minutes, seed 21)', () => {
  run(
    'under SIGKILLs, a control-plane crash, Kafka outages, toxics, sick instances and config changes, every accepted order ends CONFIRMED or REJECTED, charged and notified exactly once, no sidecar grows, no process is left',
    async () => {
      const report: SoakReport = await runSoak({ minutes: 2, seed: 21, bus: 'kafka', log: () => {} });
      printReport(report);
      expect(report.schedule.length).toBeGreaterThanOrEqual(10);
      expect(new Set(report.schedule.map((f) => f.kind)).size).toBeGreaterThanOrEqual(4);
      expect(report.schedule.filter((f) => f.kind === 'broker-outage').length).toBeGreaterThanOrEqual(1);
      expect(Object.values(report.clients).reduce((a, b) => a + b, 0)).toBeGreaterThan(400);
      expect(report.invariants.filter((e) => !e.pass)).toEqual([]);
    },
    6 * 60_000,
  );
});
