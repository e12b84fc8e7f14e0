/**
 * A small seedable PRNG (splitmix32). Toxiproxy uses Go's global math/rand; we need repeatable
 * runs (tests, scenarios), so every random decision in the chaos server comes from one of these.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  }

  /** Uniform integer in [0, n), like Go's rand.Intn (n must be > 0). */
  intn(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A new generator whose sequence is derived from this one's seed and a label. */
  derive(label: string): Rng {
    let h = this.state ^ 0x811c9dc5;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new Rng(h >>> 0);
  }
}
