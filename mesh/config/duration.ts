/**
 * Durations as Istio reads them from YAML: Go's time.ParseDuration grammar (what Istio's
 * unmarshaller accepts for google.protobuf.Duration fields), e.g. `1s`, `500ms`, `1.5s`, `1m`,
 * `1h2m3s`, `250us`, `100ns`. Negative durations are rejected (never valid in Istio config).
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

export class DurationError extends Error {}

/** Parses an Istio duration string into milliseconds (may be fractional for us/ns). */
export function parseDuration(s: string): number {
  if (typeof s !== 'string') {
    throw new DurationError(`duration must be a string like "1s" or "500ms", got ${JSON.stringify(s)}`);
  }
  const text = s.trim();
  if (text === '0') return 0;
  if (text === '' || text.startsWith('-') || text.startsWith('+')) {
    throw new DurationError(
      `invalid duration ${JSON.stringify(s)}: expected a non-negative value like "1s", "500ms", "1.5s", "1m" or "1h2m3s"`,
    );
  }
  let ms = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) {
      const hint = /^\d+(\.\d+)?$/.test(text) ? ' (a unit is required, e.g. "' + text + 's")' : '';
      throw new DurationError(
        `invalid duration ${JSON.stringify(s)}${hint}: expected number+unit parts with units h, m, s, ms, us, ns (e.g. "1.5s", "1h2m3s")`,
      );
    }
    ms += Number(m[1]) * UNIT_MS[m[2]];
    pos = PART.lastIndex;
  }
  // Round away float noise from fractional parts (e.g. 1.1s -> 1100, not 1100.0000000000002).
  return Math.round(ms * 1e6) / 1e6;
}

/** Formats milliseconds back to a short Istio-style string (for messages). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
