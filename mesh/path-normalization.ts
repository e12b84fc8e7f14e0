/**
 * The request path as Envoy's HTTP connection manager rewrites it before any filter or route sees it, configured
 * the way Istio configures it from `meshConfig.pathNormalization.normalization` (listener_builder.go):
 *
 * | mode                      | Envoy settings                                                              |
 * |---------------------------|-----------------------------------------------------------------------------|
 * | NONE                      | normalize_path false                                                        |
 * | BASE (Istio's default)    | normalize_path true (RFC 3986), path_with_escaped_slashes_action KEEP_UNCHANGED |
 * | MERGE_SLASHES             | BASE + merge_slashes                                                        |
 * | DECODE_AND_MERGE_SLASHES  | MERGE_SLASHES + UNESCAPE_AND_FORWARD (`%2F` → `/`, `%5C` → `\`)              |
 *
 * Envoy's order (ConnectionManagerUtility::maybeNormalizePath): strip the fragment, unescape slashes, canonicalize
 * (Chromium's CanonicalizePath: decode %-escapes of unreserved characters, `\` → `/`, resolve `.`/`..` segments,
 * keep other escapes byte for byte, fail on `%00`), then merge slashes. The query string is never touched. The
 * result replaces the request target, so AuthorizationPolicy, route matching and the app all see the same path.
 */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/** Istio's default (meshConfig.pathNormalization unset = BASE). */
export const DEFAULT_PATH_NORMALIZATION: PathNormalization = 'BASE';

const HEX = '0123456789ABCDEF';
const hexVal = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" — the escapes Chromium decodes in a path. */
const unreserved = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
/** Characters Chromium's path canonicalizer escapes when they appear raw. */
const mustEscape = (c: number): boolean => c < 0x21 || c > 0x7e || c === 34 || c === 60 || c === 62 || c === 96;

/**
 * The normalized request target (path + untouched query, fragment dropped), or null when the path cannot be
 * normalized (Envoy answers 400, response code details `path_normalization_failed`).
 */
export function normalizePath(target: string, mode: PathNormalization): string | null {
  let t = target;
  if (t.charCodeAt(0) !== 47 && /^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    // absolute-form (RFC 9112 §3.2.2): Envoy's codec splits off scheme and authority.
    const slash = t.indexOf('/', t.indexOf('//') + 2);
    t = slash < 0 ? '/' : t.slice(slash);
  }
  let q = -1;
  let hash = -1;
  let fastPath = t.charCodeAt(0) === 47;
  const merge = mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES';
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 63 || c === 35) {
      if (c === 63) q = i;
      else hash = i;
      break;
    }
    if (c === 37 || c === 92 || mustEscape(c) || (c === 46 && t.charCodeAt(i - 1) === 47) || (merge && c === 47 && t.charCodeAt(i - 1) === 47)) fastPath = false;
  }
  if (q >= 0) hash = t.indexOf('#', q);
  if (fastPath && hash < 0) return t;
  if (hash >= 0) t = t.slice(0, hash);
  let path = q < 0 ? t : t.slice(0, q);
  const query = q < 0 ? '' : t.slice(q);
  if (mode === 'NONE') return t;
  if (mode === 'DECODE_AND_MERGE_SLASHES') path = path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  const canonical = canonicalize(path);
  if (canonical === null) return null;
  return (merge ? canonical.replace(/\/{2,}/g, '/') : canonical) + query;
}

/** Chromium's CanonicalizePath over the path part: escapes, backslashes, dot segments. */
function canonicalize(path: string): string | null {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 && i + 2 < path.length && hexVal(path.charCodeAt(i + 1)) >= 0 && hexVal(path.charCodeAt(i + 2)) >= 0) {
      const v = hexVal(path.charCodeAt(i + 1)) * 16 + hexVal(path.charCodeAt(i + 2));
      if (v === 0) return null;
      out += unreserved(v) ? String.fromCharCode(v) : path.slice(i, i + 3);
      i += 2;
    } else if (c === 92) {
      out += '/';
    } else if (mustEscape(c)) {
      // Node hands bytes as latin1 code units, so one unit is one byte.
      if (c === 0) return null;
      out += c > 0xff ? encodeURIComponent(path[i]) : `%${HEX[c >> 4]}${HEX[c & 15]}`;
    } else {
      out += path[i];
    }
  }
  // Dot segments (RFC 3986 §5.2.4, as Chromium applies them): "." drops, ".." drops the one before; a path ending
  // in one keeps its trailing slash. Empty segments ("//") stay unless slashes are merged afterwards.
  const segments = out.split('/');
  const kept: string[] = [];
  const start = segments[0] === '' ? 1 : 0;
  for (let i = start; i < segments.length; i++) {
    const s = segments[i];
    const last = i === segments.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..' && kept.length > 0) kept.pop();
      if (last) kept.push('');
      continue;
    }
    kept.push(s);
  }
  return '/' + kept.join('/');
}

/** Reads Istio's mesh-wide setting from a string (MESH_PATH_NORMALIZATION), naming the allowed values when wrong. */
export function parsePathNormalization(v: string | undefined, where: string): PathNormalization {
  if (v === undefined || v === '' || v === 'DEFAULT') return DEFAULT_PATH_NORMALIZATION;
  if ((PATH_NORMALIZATIONS as readonly string[]).includes(v)) return v as PathNormalization;
  throw new Error(`${where} is "${v}"; expected one of ${PATH_NORMALIZATIONS.join(', ')} (meshConfig.pathNormalization.normalization)`);
}
