import { ejectionOf, type SickCall } from '../../scenarios/circuit-breaker';

/** A call dispatched at `d` ms and answered `ms` later with `code`. */
const call = (d: number, ms: number, code = 500): SickCall => ({ dispatched: d, answered: d + ms, code });

describe('circuit-breaker reads the ejection off the caller\'s access log', () => {
  test('7 5xx of which 2 were dispatched before the 5th answer and answered after it: ejected at the 5th (t = 54 ms), 5 beside 2 in flight, 0 dispatched while ejected, back at 2100 ms', () => {
    const calls = [call(0, 3), call(10, 3), call(20, 3), call(30, 3), call(50, 4), call(51, 30), call(52, 40), call(2100, 3, 201)];
    expect(ejectionOf(calls, 5)).toEqual({ ejectedAt: 54, errors: 7, inFlight: 2, dispatchedWhileEjected: 0, back: 2100 });
  });

  test('a late ejection fails it: a 6th 5xx dispatched 3 ms after the 5th answer counts as dispatched while ejected, and 6 5xx beside 0 in flight', () => {
    const calls = [call(0, 3), call(10, 3), call(20, 3), call(30, 3), call(40, 3), call(46, 3), call(2100, 3, 201)];
    expect(ejectionOf(calls, 5)).toEqual({ ejectedAt: 43, errors: 6, inFlight: 0, dispatchedWhileEjected: 1, back: 2100 });
  });

  test('a call logged in the ejection\'s own millisecond (start floored) is taken as in flight, not as dispatched after; 4 5xx is no ejection at all', () => {
    const calls = [call(0, 3), call(10, 3), call(20, 3), call(30, 3), call(40, 3.6), call(43, 20)];
    expect(ejectionOf(calls, 5)).toMatchObject({ ejectedAt: 43.6, errors: 6, inFlight: 1, dispatchedWhileEjected: 0, back: undefined });
    expect(ejectionOf(calls.slice(0, 4), 5)).toBeUndefined();
  });
});
