import { OutlierDetector, MAX_EJECTION_TIME_MS } from '../../mesh/outlier-detector';
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

  test('multiplier decays one step per base ejection time of good health, and ejection is capped at 300 s', () => {
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
    const at = clock.now();
    clock.advanceTo(at + MAX_EJECTION_TIME_MS - 10_000);
    expect(od.isEjected('a')).toBe(true);
    clock.advanceTo(at + MAX_EJECTION_TIME_MS);
    expect(od.isEjected('a')).toBe(false);
    od.close();
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
