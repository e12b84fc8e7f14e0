import { OutlierDetector, MAX_EJECTION_TIME_MS } from '../../mesh/outlier-detector';
import { loadYaml } from '../../mesh/config/load';
import { analyze } from '../../mesh/config/analyze';
import { compileConfig } from '../../mesh/compile';
import { effectiveOutlierDetection } from '../../mesh/config/effective';
import { FakeClock } from './helpers';

const config = (o: Record<string, unknown>) => effectiveOutlierDetection({ consecutive5xxErrors: 5, interval: '100ms', baseEjectionTime: '300ms', maxEjectionPercent: 100, ...o })!;

describe('outlier detector (fake clock, exact)', () => {
  test('ejects inline at the 5th consecutive 5xx; a success in between resets the count', () => {
    const clock = new FakeClock();
    const ejected: string[] = [];
    const od = new OutlierDetector<string>(config({}), clock, { onEject: (h) => ejected.push(h) });
    od.setHosts(['a', 'b', 'c']);
    for (let i = 0; i < 4; i++) od.record('a', 500);
    od.record('a', 200);
    for (let i = 0; i < 4; i++) od.record('a', 503);
    expect(od.isEjected('a')).toBe(false);
    od.record('a', 503);
    expect(od.isEjected('a')).toBe(true);
    expect(ejected).toEqual(['a']);
    od.close();
  });

  test('returns only at the first sweep after baseEjectionTime; the 2nd ejection lasts twice as long', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({}), clock);
    od.setHosts(['a', 'b']);
    clock.advanceTo(50);
    for (let i = 0; i < 5; i++) od.record('a', 500); // ejected at t=50
    clock.advanceTo(349);
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(399); // sweep at 300 (250 ms in): still out
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(400); // sweep at 400: 350 ≥ 300
    expect(od.isEjected('a')).toBe(false);
    clock.advanceTo(420);
    for (let i = 0; i < 5; i++) od.record('a', 502); // ejected again at 420: 600 ms
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(999); // sweeps at 500..900: 480 < 600
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(1000); // 580 < 600
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(1100); // 680 ≥ 600
    expect(od.isEjected('a')).toBe(false);
    expect(od.ejectionsOf('a')).toBe(2);
    od.close();
  });

  test('backoff decays one step per sweep once the host has been back for one interval (Envoy), and ejection is capped at max(300 s, base)', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({ baseEjectionTime: '200s', interval: '10s' }), clock);
    od.setHosts(['a']);
    const eject = () => {
      for (let i = 0; i < 5; i++) od.record('a', 500);
    };
    eject(); // 200 s
    clock.advanceTo(200_000);
    expect(od.isEjected('a')).toBe(false);
    eject(); // 2nd: 400 s → capped to 300 s
    expect(od.backoffOf('a')).toBe(2);
    const at = clock.now();
    clock.advanceTo(at + MAX_EJECTION_TIME_MS - 10_000);
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(at + MAX_EJECTION_TIME_MS);
    expect(od.isEjected('a')).toBe(false);
    // back at 500 s: the sweep at 510 s (one interval later) takes one step, the one at 520 s the next.
    clock.advanceTo(at + MAX_EJECTION_TIME_MS + 10_000);
    expect(od.backoffOf('a')).toBe(1);
    clock.advanceTo(at + MAX_EJECTION_TIME_MS + 20_000);
    expect(od.backoffOf('a')).toBe(0);
    od.close();
    // A base above 300 s is itself the cap (Envoy: max_ejection_time defaults to max(300 s, base)).
    const long = new OutlierDetector<string>(config({ baseEjectionTime: '400s', interval: '10s' }), clock);
    long.setHosts(['a']);
    const t0 = clock.now();
    for (let i = 0; i < 5; i++) long.record('a', 500);
    clock.advanceTo(t0 + 390_000);
    expect(long.isEjected('a')).toBe(true);
    clock.advanceTo(t0 + 400_000);
    expect(long.isEjected('a')).toBe(false);
    long.close();
  });

  test('the backoff grows while backoff·base < max + base: with base 30 s it reaches 11, and every ejection then lasts 300 s', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({ baseEjectionTime: '30s', interval: '1s' }), clock);
    od.setHosts(['a']);
    const lasted: number[] = [];
    for (let k = 0; k < 13; k++) {
      for (let i = 0; i < 5; i++) od.record('a', 500); // re-ejected the moment it returns: no sweep to decay
      const t0 = clock.now();
      while (od.isEjected('a')) clock.advanceTo(clock.now() + 1000);
      lasted.push((clock.now() - t0) / 1000);
    }
    expect(od.backoffOf('a')).toBe(11);
    expect(lasted).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300]);
    od.close();
  });

  test('counters reset when a host returns: 4 errors before the ejection + 1 after do not eject it again', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({ consecutiveGatewayErrors: 5 }), clock);
    od.setHosts(['a', 'b']);
    for (let i = 0; i < 5; i++) od.record('a', 500); // 5xx ejection
    for (let i = 0; i < 4; i++) od.record('a', 503); // while out (in-flight requests): counters run on
    clock.advanceTo(300);
    expect(od.isEjected('a')).toBe(false);
    od.record('a', 503);
    expect(od.isEjected('a')).toBe(false);
    for (let i = 0; i < 3; i++) od.record('a', 503);
    expect(od.isEjected('a')).toBe(false);
    od.record('a', 503); // the 5th since return
    expect(od.isEjected('a')).toBe(true);
    od.close();
  });

  test('maxEjectionPercent: 0 is what Istio leaves unset: Envoy\'s 10 % (ejects one of 10 hosts, not none)', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({ maxEjectionPercent: 0 }), clock);
    const hosts = Array.from({ length: 10 }, (_, i) => `h${i}`);
    od.setHosts(hosts);
    for (const h of ['h0', 'h1']) for (let i = 0; i < 5; i++) od.record(h, 500);
    expect([od.isEjected('h0'), od.isEjected('h1')]).toEqual([true, false]);
    od.close();
  });

  test('local-origin failures count as 503/504 by default; with splitExternalLocalOriginErrors only towards consecutiveLocalOriginFailures', () => {
    const clock = new FakeClock();
    const plain = new OutlierDetector<string>(config({ consecutive5xxErrors: 3 }), clock);
    plain.setHosts(['a', 'b']);
    plain.recordLocal('a', 'timeout');
    plain.recordLocal('a', 'connect-failed');
    plain.record('a', 500);
    expect(plain.isEjected('a')).toBe(true);
    plain.close();

    const split = new OutlierDetector<string>(config({ consecutive5xxErrors: 3, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 }), clock);
    split.setHosts(['a', 'b']);
    split.recordLocal('a', 'timeout');
    split.record('a', 500); // reached the host: resets the local-origin run; 1st external 5xx
    split.recordLocal('a', 'timeout');
    split.record('a', 500);
    expect(split.isEjected('a')).toBe(false); // 2 external 5xx, local runs of 1
    split.recordLocal('b', 'connect-failed');
    split.recordLocal('b', 'connect-failed');
    expect(split.isEjected('b')).toBe(true);
    split.close();
    // split without a count: Envoy's default 5
    const dflt = new OutlierDetector<string>(config({ splitExternalLocalOriginErrors: true }), clock);
    dflt.setHosts(['a', 'b']);
    for (let i = 0; i < 4; i++) dflt.recordLocal('a', 'connect-failed');
    expect(dflt.isEjected('a')).toBe(false);
    dflt.recordLocal('a', 'connect-failed');
    expect(dflt.isEjected('a')).toBe(true);
    dflt.close();
  });

  test('maxEjectionPercent: a host is ejected only if 100·(ejected+1)/hosts ≤ max', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({ maxEjectionPercent: 50 }), clock);
    od.setHosts(['a', 'b', 'c', 'd']);
    for (const h of ['a', 'b', 'c']) for (let i = 0; i < 5; i++) od.record(h, 500);
    expect(['a', 'b', 'c'].map((h) => od.isEjected(h))).toEqual([true, true, false]);
    expect(od.ejected).toBe(2);
    // Istio's default 10 % with 3 hosts: 33 % > 10 %, nobody is ejected.
    const od10 = new OutlierDetector<string>(config({ maxEjectionPercent: undefined }), clock);
    od10.setHosts(['a', 'b', 'c']);
    for (let i = 0; i < 5; i++) od10.record('a', 500);
    expect(od10.isEjected('a')).toBe(false);
    od.close();
    od10.close();
  });

  test('consecutiveGatewayErrors counts only 502/503/504; a 500 breaks the run', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 }), clock);
    od.setHosts(['a', 'b']);
    od.record('a', 503);
    od.record('a', 504);
    od.record('a', 500);
    od.record('a', 502);
    expect(od.isEjected('a')).toBe(false);
    od.record('a', 502);
    od.record('a', 503);
    expect(od.isEjected('a')).toBe(true);
    od.close();
  });

  test('hosts that leave are forgotten (ejected count drops); hosts that stay keep their state', () => {
    const clock = new FakeClock();
    const od = new OutlierDetector<string>(config({}), clock);
    od.setHosts(['a', 'b']);
    for (let i = 0; i < 5; i++) od.record('a', 500);
    for (let i = 0; i < 3; i++) od.record('b', 500);
    od.setHosts(['b', 'c']);
    expect(od.ejected).toBe(0);
    od.record('b', 500);
    od.record('b', 500);
    expect(od.isEjected('b')).toBe(true);
    od.close();
  });
});

test('splitExternalLocalOriginErrors and consecutiveLocalOriginFailures are accepted (no ML0003) and reach the cluster policy', () => {
  const { resources } = loadYaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 }
`, 'test.yaml');
  expect(analyze(resources).filter((m) => m.level === 'Error')).toEqual([]);
  const spec = compileConfig(resources, { payments: [] }, { service: 'orders', labels: {} }).clusters.get('outbound|80||payments.default.svc.cluster.local')!;
  expect(spec.policy.outlierDetection).toMatchObject({ consecutive5xxErrors: 3, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 });
});
