import { formatDuration, parseDuration } from '../../mesh/config/duration';

describe('parseDuration (Istio/Go duration grammar -> ms)', () => {
  test.each<[string, number]>([
    ['1s', 1000],
    ['500ms', 500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.25s', 250],
    ['.5s', 500],
    ['1h2m3s', 3_723_000],
    ['2m30s', 150_000],
    ['1s500ms', 1500],
    ['250us', 0.25],
    ['1500us', 1.5],
    ['1µs', 0.001],
    ['1000000ns', 1],
    ['3m', 180_000],
    ['0s', 0],
    ['0', 0],
    ['1.1s', 1100],
  ])('%s = %d ms', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });

  test.each<[string, RegExp]>([
    ['', /invalid duration ""/],
    ['10', /a unit is required, e.g. "10s"/],
    ['1.5', /a unit is required/],
    ['-1s', /non-negative/],
    ['1d', /units h, m, s, ms, us, ns/],
    ['1 s', /invalid duration "1 s"/],
    ['s', /invalid duration "s"/],
    ['1sec', /invalid duration "1sec"/],
  ])('rejects %j', (s, re) => {
    expect(() => parseDuration(s)).toThrow(re);
  });

  test('non-strings are rejected with the value shown', () => {
    expect(() => parseDuration(5 as unknown as string)).toThrow('duration must be a string like "1s" or "500ms", got 5');
  });

  test('formatDuration picks the largest whole unit', () => {
    expect([formatDuration(3_600_000), formatDuration(180_000), formatDuration(1000), formatDuration(1500), formatDuration(0)]).toEqual([
      '1h',
      '3m',
      '1s',
      '1500ms',
      '0s',
    ]);
  });
});
