import { judgeAtMost, pairedMedian } from '../../bench/paired-median';

describe('pairedMedian: the median of per-round differences with a sign-test interval', () => {
  test('7 rounds: the median of the 7 differences, and the interval from the 1st to the 7th (98.4%; the 2nd–6th covers only 87.5%)', () => {
    const plain = [9.53, 9.84, 8.92, 8.91, 10.72, 10.46, 10.52];
    const traced = [18.7, 13.95, 13.45, 15.84, 14.99, 16.46, 16.02];
    const e = pairedMedian(plain, traced);
    expect(e.median).toBeCloseTo(5.5, 2);
    expect(e.low).toBeCloseTo(4.11, 2);
    expect(e.high).toBeCloseTo(9.17, 2);
    expect(e.coverage).toBeCloseTo(1 - 2 / 128, 6);
    expect(judgeAtMost(e, 5)).toBe('INCONCLUSIVE');
  });

  test('9 rounds: the 2nd to the 8th difference (96.1%); pass only when all of it is at or below the goal, fail only when all of it is above', () => {
    const zeros = new Array(9).fill(0);
    const low = pairedMedian(zeros, [1, 2, 3, 4, 4.5, 4.8, 4.9, 5, 30]);
    expect([low.low, low.median, low.high]).toEqual([2, 4.5, 5]);
    expect(low.coverage).toBeCloseTo(1 - (2 * 10) / 512, 6);
    expect(judgeAtMost(low, 5)).toBe('PASS'); // one wild round (30) does not decide it
    expect(judgeAtMost(pairedMedian(zeros, [-9, 5.1, 6, 6, 7, 7, 8, 9, 9]), 5)).toBe('FAIL');
    expect(judgeAtMost(pairedMedian(zeros, [1, 2, 3, 4, 4.5, 4.8, 4.9, 5.2, 30]), 5)).toBe('INCONCLUSIVE');
  });

  test('an even count takes the mean of the middle two; 3 rounds are too few for a 90% interval: never a verdict', () => {
    expect(pairedMedian([0, 0, 0, 0], [1, 2, 3, 10]).median).toBe(2.5);
    const three = pairedMedian([0, 0, 0], [1, 1, 1]);
    expect(three.coverage).toBe(0);
    expect(judgeAtMost(three, 5)).toBe('INCONCLUSIVE');
    expect(() => pairedMedian([1], [])).toThrow(/same non-zero length/);
  });
});
