/**
 * JSON text written straight into one growing byte buffer, byte for byte what `Buffer.from(JSON.stringify(x))` gives
 * (ECMA-262 JSON.stringify's QuoteJSONString, then UTF-8): `"` and `\` escaped, \b \t \n \f \r in their short form,
 * other controls and lone surrogates as `\u00xx` / `\udxxx` (lower-case hex), everything else as UTF-8, U+2028/U+2029
 * and DEL as they are. Constant pieces of a document are encoded once (`fragment`) and copied; strings are escaped as
 * they are copied, one pass, no intermediate string. The buffer is reused: a `view()` is valid until the next `reset()`.
 */

const HEX = '0123456789abcdef';
/** The escape of each byte below 0x80 (undefined: the byte is written as is). */
const ESCAPE: (Uint8Array | undefined)[] = [];
for (let c = 0; c < 0x80; c++) {
  const s = JSON.stringify(String.fromCharCode(c)).slice(1, -1);
  ESCAPE.push(s.length > 1 ? Buffer.from(s, 'latin1') : undefined);
}

/** 1 for a byte below 0x80 that JSON.stringify writes as it is: printable ASCII but `"` and `\`. */
const PLAIN = new Uint8Array(0x80);
for (let c = 0x20; c < 0x7f; c++) if (c !== 0x22 && c !== 0x5c) PLAIN[c] = 1;

/** A constant piece of JSON text, encoded once. */
export const fragment = (text: string): Uint8Array => Buffer.from(text, 'utf8');

export class JsonBytes {
  private buf: Buffer;
  private pos = 0;

  /** `keepBytes`: a buffer grown past this (a batch of huge URLs) is given back at the next reset, not kept for good. */
  constructor(
    private readonly initialBytes = 64 * 1024,
    private readonly keepBytes = 4 * 1024 * 1024,
  ) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  reset(): void {
    this.pos = 0;
    if (this.buf.length > this.keepBytes) this.buf = Buffer.allocUnsafeSlow(this.initialBytes);
  }

  /** Bytes held (for tests and /tracing). */
  get capacity(): number {
    return this.buf.length;
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written since the last reset (shared with the writer: valid until it is reset). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private grow(need: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A pre-encoded fragment. */
  bytes(f: Uint8Array): void {
    const n = f.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    // TypedArray.prototype.set is a memmove at ~15 ns whatever the length; a byte loop is cheaper below ~12 bytes.
    if (n < 12) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = f[i];
      this.pos = p;
      return;
    }
    this.buf.set(f, this.pos);
    this.pos += n;
  }

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  /** A number as JSON.stringify writes it (non-finite: null). */
  number(n: number): void {
    this.ascii(Number.isFinite(n) ? String(n) : 'null');
  }

  /**
   * A non-negative integer below 2^53 in decimal, as String(n) writes it, without making the string (a µs timestamp is
   * past 2^31: String() takes V8's double-to-string path). False, and nothing written, for any other number.
   */
  uint(n: number): boolean {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER) || Math.floor(n) !== n) return false;
    if (this.pos + 16 > this.buf.length) this.grow(16);
    // n / 1e8 is exact enough for floor: its fraction is a multiple of 1e-8, more than half an ulp of a quotient < 2^27.
    const hi = Math.floor(n / 1e8);
    const lo = n - hi * 1e8;
    if (hi > 0) {
      this.digits(hi, 0);
      this.digits(lo, 8);
    } else this.digits(lo, 0);
    return true;
  }

  /** An integer 0 ≤ v < 1e8 in decimal, zero-padded to `width` digits. */
  private digits(v: number, width: number): void {
    let len = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) len++;
    if (len < width) len = width;
    const b = this.buf;
    let p = this.pos + len;
    this.pos = p;
    for (let k = 0; k < len; k++) {
      const q = (v / 10) | 0;
      b[--p] = 0x30 + (v - q * 10);
      v = q;
    }
  }

  /** Text known to need no escaping and to be ASCII (digits, hex ids). */
  ascii(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** The contents of a JSON string (no quotes): escaped as JSON.stringify does, UTF-8 encoded. */
  chars(s: string): void {
    const n = s.length;
    // Worst case 6 bytes per UTF-16 unit (\u00xx, \udxxx); a surrogate pair is 4 bytes for 2 units.
    if (this.pos + 6 * n > this.buf.length) this.grow(6 * n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        if (PLAIN[c] === 1) {
          b[p++] = c;
          continue;
        }
        const e = ESCAPE[c];
        if (e === undefined) b[p++] = c;
        else for (let k = 0; k < e.length; k++) b[p++] = e[k];
      } else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      } else {
        const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          b[p++] = 0xf0 | (cp >> 18);
          b[p++] = 0x80 | ((cp >> 12) & 0x3f);
          b[p++] = 0x80 | ((cp >> 6) & 0x3f);
          b[p++] = 0x80 | (cp & 0x3f);
          i++;
        } else {
          // A lone surrogate: JSON.stringify (well-formed since ES2019) writes its escape.
          b[p++] = 0x5c; // \
          b[p++] = 0x75; // u
          b[p++] = HEX.charCodeAt(c >> 12);
          b[p++] = HEX.charCodeAt((c >> 8) & 0xf);
          b[p++] = HEX.charCodeAt((c >> 4) & 0xf);
          b[p++] = HEX.charCodeAt(c & 0xf);
        }
      }
    }
    this.pos = p;
  }

  /** Text that is JSON already (JSON.stringify's output: escaped, well-formed), as UTF-8. */
  text(s: string): void {
    if (this.pos + 3 * s.length > this.buf.length) this.grow(3 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A JSON string: quotes and `chars`. */
  string(s: string): void {
    this.byte(0x22);
    this.chars(s);
    this.byte(0x22);
  }
}
