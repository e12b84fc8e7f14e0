/**
 * Byte classes of RFC 9110/9112 as llhttp applies them (Node's own HTTP parser): a 1 marks a byte
 * allowed in that position. Tables, not regexes, so the head parser stays one pass over bytes.
 */
function table(allowed: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = allowed(c) ? 1 : 0;
  return t;
}

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** tchar: header names, methods, chunk-extension names and token values. */
export const TOKEN = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/** field-vchar, SP and HTAB, obs-text included; DEL and other controls are not. */
export const FIELD_VALUE = table((c) => c === 0x09 || (c >= 0x20 && c <= 0xff && c !== 0x7f));

/** A request-target's path, query and fragment: visible ASCII (llhttp's strict URL chars). */
export const URL_PATH = table((c) => c > 0x20 && c < 0x7f);

/** The authority of an absolute-form or CONNECT target (userinfo chars and IP-literal brackets; '@' is handled apart). */
export const URL_SERVER = table((c) => isAlnum(c) || "-_.!~*'()%;:&=+$,[]".includes(String.fromCharCode(c)));

/** qdtext of a quoted chunk-extension value. */
export const QDTEXT = table((c) => c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);

/** Hex digit value, or -1. */
export const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x41 + c] = HEX[0x61 + c] = 10 + c;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
