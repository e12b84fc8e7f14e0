/**
 * Istio's string match forms for authorization fields: exact "abc", prefix "abc*", suffix "*abc", and "*" which
 * matches any non-empty value (presence). Wildcards anywhere else are rejected at compile time.
 */
export type Matcher = (value: string | undefined) => boolean;

/** Returns an error description when `pattern` uses `*` in an unsupported position, else undefined. */
export function patternError(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return `must be a string, got ${JSON.stringify(pattern)}`;
  if (pattern === '*' || !pattern.includes('*')) return undefined;
  const inner = pattern.slice(1, -1);
  const ok = (pattern.startsWith('*') !== pattern.endsWith('*')) && !inner.includes('*');
  return ok ? undefined : `"${pattern}": "*" is allowed only alone, as a prefix ("*abc") or as a suffix ("abc*")`;
}

export function compilePattern(pattern: string, normalize: (s: string) => string = (s) => s): Matcher {
  if (pattern === '*') return (v) => v !== undefined && v !== '';
  if (pattern.endsWith('*')) {
    const prefix = normalize(pattern.slice(0, -1));
    return (v) => v !== undefined && normalize(v).startsWith(prefix);
  }
  if (pattern.startsWith('*')) {
    const suffix = normalize(pattern.slice(1));
    return (v) => v !== undefined && normalize(v).endsWith(suffix);
  }
  const exact = normalize(pattern);
  return (v) => v !== undefined && normalize(v) === exact;
}

/** Any-of matcher over a list of patterns. */
export function anyOf(patterns: readonly string[], normalize?: (s: string) => string): Matcher {
  const ms = patterns.map((p) => compilePattern(p, normalize));
  return (v) => ms.some((m) => m(v));
}
