/**
 * Decoding request bodies the way Go's encoding/json does for Toxiproxy's structs: keys match
 * case-insensitively, unknown keys and nulls are ignored, and type mismatches produce Go's
 * "json: cannot unmarshal ..." messages (which Toxiproxy wraps in "bad request body: ...").
 */
export type GoKind = 'string' | 'bool' | 'int64' | 'int' | 'float32';

export interface GoField {
  key: string;
  kind: GoKind;
}

/** Parses a body like json.Decoder.Decode; returns the value or a Go-style error message. */
export function parseGoJson(text: string): { value: unknown } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'EOF' };
  if (nestedDeeperThan(trimmed, GO_MAX_DEPTH)) return { error: 'exceeded max depth' };
  try {
    return { value: JSON.parse(trimmed) };
  } catch {
    return { error: describeSyntaxError(trimmed) };
  }
}

/**
 * Go reports the first offending character; a clean prefix that just stops is "unexpected EOF".
 * It is found by parsing growing prefixes: every prefix before it is an incomplete document, every
 * prefix from it on is not. Short bodies are scanned prefix by prefix; a long one (a hostile
 * `[[[[…` of a megabyte would take hours that way) by bisecting that boundary, 20-odd parses.
 */
/** encoding/json's nesting limit (scanner.go maxNestingDepth): deeper input is "exceeded max depth". */
const GO_MAX_DEPTH = 10000;

function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

function describeSyntaxError(text: string): string {
  const verdict = (i: number): string | undefined => {
    try {
      JSON.parse(text.slice(0, i + 1));
      return `invalid character '${text[i + 1] ?? ''}' after top-level value`;
    } catch (e) {
      const msg = (e as Error).message;
      if (/end of JSON input|Unterminated/i.test(msg) && i < text.length - 1) return undefined;
      if (/end of JSON input|Unterminated/i.test(msg)) return 'unexpected EOF';
      const m = /position (\d+)/.exec(msg);
      const pos = m ? Number(m[1]) : i;
      const ch = text[pos] ?? text[i];
      return pos === 0
        ? `invalid character '${ch}' looking for beginning of value`
        : `invalid character '${ch}' looking for beginning of object key string or value`;
    }
  };
  if (text.length <= 256) {
    for (let i = 0; i < text.length; i++) {
      const v = verdict(i);
      if (v !== undefined) return v;
    }
    return 'unexpected EOF';
  }
  let lo = 0;
  let hi = text.length - 1; // verdict(last) is always defined
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (verdict(mid) === undefined) lo = mid + 1;
    else hi = mid;
  }
  return verdict(lo) ?? 'unexpected EOF';
}

export function goTypeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}

/**
 * Decodes `input` (already parsed JSON) into `target` following `fields`. `structPath` names the Go
 * struct in messages, e.g. "Proxy" or "LatencyToxic.attributes". Returns the first error message.
 */
export function decodeStruct(
  target: Record<string, unknown>,
  input: unknown,
  fields: readonly GoField[],
  structPath: string,
  goValueType: string,
): string | null {
  if (input === null) return null;
  if (typeof input !== 'object' || Array.isArray(input)) {
    return `json: cannot unmarshal ${goTypeOf(input)} into Go value of type ${goValueType}`;
  }
  let firstError: string | null = null;
  for (const [rawKey, value] of Object.entries(input as Record<string, unknown>)) {
    const field = fields.find((f) => f.key === rawKey) ?? fields.find((f) => f.key.toLowerCase() === rawKey.toLowerCase());
    if (!field || value === null) continue;
    const err = checkKind(value, field.kind);
    if (err) {
      firstError ??= `json: cannot unmarshal ${err} into Go struct field ${structPath}.${field.key} of type ${field.kind}`;
      continue;
    }
    target[field.key] = field.kind === 'float32' ? float32(value as number) : value;
  }
  return firstError;
}

function checkKind(value: unknown, kind: GoKind): string | null {
  const t = goTypeOf(value);
  switch (kind) {
    case 'string':
      return t === 'string' ? null : t;
    case 'bool':
      return t === 'bool' ? null : t;
    case 'float32':
      return t === 'number' ? null : t;
    case 'int':
    case 'int64':
      if (t !== 'number') return t;
      return Number.isInteger(value) ? null : `number ${String(value)}`;
  }
}

/** The value Go would print after storing `v` in a float32 (shortest decimal that round-trips). */
export function float32(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}
