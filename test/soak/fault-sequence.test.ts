import { faultSequence } from '../../soak/soak';
import { seededRandom } from '../../lib/random';

const KINDS = ['kill-instance', 'kill-instance', 'kill-sidecar', 'control-plane-restart', 'toxic', 'toxic', 'sick', 'sick', 'broker-outage'] as const;

describe('the soak\'s fault kinds', () => {
  test('for each of seeds 1–500, the first 6 faults are the 6 kinds, each once (a 2-minute soak injects ~26, so every kind is exercised)', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const next = faultSequence(KINDS, seededRandom(seed));
      const first = Array.from({ length: 6 }, next);
      expect(new Set(first).size).toBe(6);
    }
  });

  test('the same seed gives the same sequence; after the first round a kind listed twice comes twice as often (kill-instance 2/9 = 22% ± 3 points over 3,000 draws)', () => {
    const a = faultSequence(KINDS, seededRandom(21));
    const b = faultSequence(KINDS, seededRandom(21));
    const seqA = Array.from({ length: 40 }, a);
    expect(Array.from({ length: 40 }, b)).toEqual(seqA);
    const next = faultSequence(KINDS, seededRandom(7));
    for (let i = 0; i < 6; i++) next();
    const draws = Array.from({ length: 3000 }, next);
    const share = (k: string): number => draws.filter((d) => d === k).length / draws.length;
    expect(Math.abs(share('kill-instance') - 2 / 9)).toBeLessThan(0.03);
    expect(Math.abs(share('broker-outage') - 1 / 9)).toBeLessThan(0.03);
  });
});
