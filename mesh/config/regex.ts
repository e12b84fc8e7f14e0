/**
 * Istio regex matches are RE2 (Envoy's safe_regex) and match the *whole* string. JavaScript's
 * engine accepts more (lookaround, backreferences, possessive tricks) and less (inline flags other
 * than a leading (?i), \A, \z). This module rejects what RE2 lacks, with a reason, and compiles
 * the rest to an anchored RegExp with the same meaning.
 */

export class RegexError extends Error {}

interface Unsupported {
  re: RegExp;
  why: string;
}

const RE2_LACKS: Unsupported[] = [
  { re: /\(\?=/, why: 'lookahead "(?=" is not supported by RE2' },
  { re: /\(\?!/, why: 'negative lookahead "(?!" is not supported by RE2' },
  { re: /\(\?<=/, why: 'lookbehind "(?<=" is not supported by RE2' },
  { re: /\(\?<!/, why: 'negative lookbehind "(?<!" is not supported by RE2' },
  { re: /\(\?>/, why: 'atomic group "(?>" is not supported by RE2' },
  { re: /\\[1-9]/, why: 'backreference like "\\1" is not supported by RE2' },
  { re: /\\k</, why: 'named backreference "\\k<...>" is not supported by RE2' },
  { re: /[*+?}]\+/, why: 'possessive quantifier (e.g. "a++") is not supported by RE2' },
];

/** Removes escaped characters and character-class contents so the feature scan sees only syntax. */
function syntaxOnly(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      // Keep backreference / \k escapes visible to the scan; blank out other escapes.
      out += /[1-9k]/.test(next) && !inClass ? c + next : '__';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        out += c;
      } else out += '_';
      continue;
    }
    if (c === '[') inClass = true;
    out += c;
  }
  return out;
}

/**
 * Checks an RE2 pattern and returns an equivalent JavaScript RegExp that matches whole strings (or, with
 * `global`, finds every match, for a substitution).
 * Throws RegexError naming the unsupported construct.
 */
export function compileRe2(pattern: string, mode: 'whole' | 'global' = 'whole'): RegExp {
  let body = pattern;
  let flags = '';
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(body);
  if (lead) {
    if (lead[1] !== 'i') {
      throw new RegexError(`inline flags "(?${lead[1]})" are not supported (only a leading "(?i)" is)`);
    }
    flags = 'i';
    body = body.slice(lead[0].length);
  }
  const syntax = syntaxOnly(body);
  for (const u of RE2_LACKS) {
    if (u.re.test(syntax)) throw new RegexError(u.why);
  }
  if (/\(\?[a-zA-Z-]+[):]/.test(syntax)) {
    throw new RegexError('inline flag groups like "(?s:...)" are not supported (only a leading "(?i)" is)');
  }
  if (/\\[Az]/.test(body)) {
    throw new RegexError('"\\A" and "\\z" are not needed: Istio regex matches already anchor the whole string');
  }
  // RE2 writes named groups as (?P<name>...); JavaScript as (?<name>...).
  const js = body.replace(/\(\?P</g, '(?<');
  try {
    // 'global': every match anywhere, as RE2::GlobalReplace finds them (Envoy's regex_rewrite).
    return mode === 'global' ? new RegExp(js, `${flags}g`) : new RegExp(`^(?:${js})$`, flags);
  } catch (e) {
    throw new RegexError(`invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}
