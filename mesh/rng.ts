import { seededRandom } from '../lib/random';

/** A uniform [0, 1) source. Every random choice the sidecar makes goes through one, so tests can fix it. */
export type Rng = () => number;

/**
 * The sidecar's randomness: seeded from MESH_SEED when set (repeatable runs and tests), otherwise
 * from Math.random. Each caller gets its own stream so one consumer cannot shift another's draws.
 */
export function meshRandom(stream = 0): Rng {
  const seed = process.env.MESH_SEED;
  if (seed !== undefined && seed !== '' && Number.isFinite(Number(seed))) return seededRandom((Number(seed) + stream * 0x9e3779b9) >>> 0);
  return Math.random;
}
