import { METHODS } from 'node:http';
import { CR, FIELD_VALUE, HTAB, LF, SP, TOKEN, URL_PATH, URL_SERVER } from './chars';

/**
 * The HTTP/1.1 request-head parser of the data plane: incremental (bytes arrive in any split), one
 * pass over each header line, and as strict as llhttp, the parser Node's http.Server uses (the
 * differential fuzz test in test/mesh/http1-codec holds it to that). It keeps each header line's
 * offsets in the received bytes — names and values become strings only when read — and extracts
 * only what framing and the connection manager need: Content-Length, Transfer-Encoding, Connection,
 * Upgrade, Host and Expect.
 *
 * Knowingly stricter than llhttp (Envoy's HTTP/1 codec rejects these too): only HTTP/1.0 and
 * HTTP/1.1 request lines (llhttp also takes HTTP/0.9, HTTP/2.0 and RTSP/1.x), and a Content-Length
 * or chunk size must fit in 2^53 − 1 (llhttp: 2^64 − 1).
 */

/** Why a head was refused: the status to answer, and Envoy-style details for the access log. */
export class Http1Error extends Error {
  constructor(
    readonly status: 400 | 431,
    /** response_code_details, e.g. `http1.codec_error{invalid_header_value}`. */
    readonly details: string,
    message: string,
  ) {
    super(message);
  }
}

export interface HeadLimits {
  /** Bytes of the whole head (request line, header lines, the blank line); more → 431. */
  maxHeadBytes: number;
  /** Header lines; more → 431. */
  maxHeaders: number;
}

const codec = (what: string, message: string): Http1Error => new Http1Error(400, `http1.codec_error{${what}}`, message);

/**
 * Methods llhttp's method table knows beyond Node's METHODS (RTSP's, and PRI of the HTTP/2 preface):
 * it refuses them only once the request line is complete, so we do the same.
 */
const LATE_REFUSED = ['PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH'];
const KNOWN_METHODS = [...METHODS, ...LATE_REFUSED];
const LATE_SET = new Set(LATE_REFUSED);
/** Known methods by first byte, so a method is matched on its bytes and never becomes a new string. */
const BY_FIRST_BYTE: string[][] = Array.from({ length: 256 }, () => []);
for (const m of KNOWN_METHODS) BY_FIRST_BYTE[m.charCodeAt(0)].push(m);

function knownMethod(buf: Buffer, s: number, e: number): string | undefined {
  for (const m of BY_FIRST_BYTE[buf[s]]) {
    if (m.length !== e - s) continue;
    let k = 1;
    while (k < m.length && buf[s + k] === m.charCodeAt(k)) k++;
    if (k === m.length) return m;
  }
  return undefined;
}
/** Lower-case ASCII of one byte. */
const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/** Whether buf[s, e) equals the lower-case ASCII `word`, ignoring case. */
function equalsIgnoreCase(buf: Buffer, s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (lower(buf[s + i]) !== word.charCodeAt(i)) return false;
  return true;
}

/** Which framing-relevant header a name is (by length first, then bytes): 0 = none of them. */
const enum Special {
  None,
  ContentLength,
  TransferEncoding,
  Connection,
  Upgrade,
  Host,
  Expect,
}

function special(buf: Buffer, s: number, e: number): Special {
  switch (e - s) {
    case 4:
      return equalsIgnoreCase(buf, s, e, 'host') ? Special.Host : Special.None;
    case 6:
      return equalsIgnoreCase(buf, s, e, 'expect') ? Special.Expect : Special.None;
    case 7:
      return equalsIgnoreCase(buf, s, e, 'upgrade') ? Special.Upgrade : Special.None;
    case 10:
      return equalsIgnoreCase(buf, s, e, 'connection') ? Special.Connection : Special.None;
    case 14:
      return equalsIgnoreCase(buf, s, e, 'content-length') ? Special.ContentLength : Special.None;
    case 16:
      return equalsIgnoreCase(buf, s, e, 'proxy-connection') ? Special.Connection : Special.None;
    case 17:
      return equalsIgnoreCase(buf, s, e, 'transfer-encoding') ? Special.TransferEncoding : Special.None;
    default:
      return Special.None;
  }
}

/** Header lines as offsets into the head's bytes, shared by request and response heads (and by trailers). */
export class HeaderLines {
  buf: Buffer = Buffer.alloc(0);
  count = 0;
  /** Per line: name start, name end, value start, value end (value without surrounding whitespace). */
  offsets = new Int32Array(64);
  /** The last parsed line's value end before trailing whitespace was trimmed (llhttp trims only SP in framing values). */
  protected rawValueEnd = 0;

  name(i: number): string {
    return this.buf.toString('latin1', this.offsets[4 * i], this.offsets[4 * i + 1]);
  }
  value(i: number): string {
    return this.buf.toString('latin1', this.offsets[4 * i + 2], this.offsets[4 * i + 3]);
  }
  /** [name, value, name, value…] as Node's rawHeaders gives them (original case, latin1). */
  raw(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.name(i), this.value(i));
    return out;
  }

  protected addLine(ns: number, ne: number, vs: number, ve: number): void {
    const k = 4 * this.count++;
    if (k + 4 > this.offsets.length) {
      const grown = new Int32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.offsets[k] = ns;
    this.offsets[k + 1] = ne;
    this.offsets[k + 2] = vs;
    this.offsets[k + 3] = ve;
  }

  /**
   * One header line buf[s, e) (without its CRLF). `complete` is false for the unterminated last line
   * at end of input: running out is then "more", not an error. Returns null when valid, or the error.
   */
  protected parseLine(buf: Buffer, s: number, e: number, complete: boolean): Http1Error | null | 'more' {
    // Input cut right after a CR: the line end may be arriving (but a CR cannot end a name).
    const cutAtCr = !complete && e > s && buf[e - 1] === CR;
    if (cutAtCr) e--;
    if (!complete && e === s) return 'more';
    if (buf[s] === SP || buf[s] === HTAB) return codec('obs_fold', 'header line starts with whitespace (obs-fold is not accepted)');
    let i = s;
    while (i < e && TOKEN[buf[i]] === 1) i++;
    if (i === e) return complete || cutAtCr ? codec('invalid_header_name', 'header line without a colon') : 'more';
    if (buf[i] !== 0x3a || i === s) return codec('invalid_header_name', 'invalid character in a header name');
    const ne = i++;
    while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++;
    const vs = i;
    let ve = i;
    for (; i < e; i++) {
      const c = buf[i];
      if (FIELD_VALUE[c] !== 1) return codec('invalid_header_value', 'invalid character in a header value');
      if (c !== SP && c !== HTAB) ve = i + 1;
    }
    this.rawValueEnd = e;
    // A line cut short is added too (its value so far), so the caller can check a framing header as llhttp would mid-value.
    this.addLine(s, ne, vs, ve);
    return complete ? null : 'more';
  }
}

/**
 * What request and response heads share: the line loop, the framing headers (Content-Length,
 * Transfer-Encoding, Connection, Upgrade) and keep-alive. Reused across the messages of one
 * connection (reset() between them).
 */
export abstract class MessageHead extends HeaderLines {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1;
  /** Content-Length, or -1 when absent. */
  contentLength = -1;
  /** Transfer-Encoding present (with a value). */
  transferEncoding = false;
  /**
   * A Transfer-Encoding line with an empty value: it names no coding, so in a request chunked is not last (RFC 9112
   * §6.3: 400), refused once the head is complete, as Node 24's llhttp does (also beside a chunked line and on
   * CONNECT); Node 20's took it as absent. A response's is read as before.
   */
  emptyTransferEncoding = false;
  /** Its last coding is chunked. */
  chunked = false;
  /** Connection tokens seen. */
  connClose = false;
  connKeepAlive = false;
  connUpgrade = false;
  hasUpgradeHeader = false;
  /** Index of the first Host line, or -1. */
  host = -1;
  /** `Expect: 100-continue`. */
  expectContinue = false;
  private emptyContentLength = false;
  /** Bytes of the head, the blank line included, once complete. */
  size = 0;

  /** Parse state: next unparsed byte, the head's first byte (after skipped empty lines), whether the start line is behind us. */
  private pos = 0;
  start = 0;
  private lineDone = false;

  /** The request or status line buf[s, e) (`complete`: as for parseLine). */
  protected abstract startLine(buf: Buffer, s: number, e: number, complete: boolean): Http1Error | 'more' | null;

  /**
   * "HTTP/1.1" exactly (or 1.0) from `i`, in a request line or a status line; llhttp's other versions are refused.
   * Sets `minor` and returns the index after it.
   */
  protected version(buf: Buffer, i: number, e: number, complete: boolean): number | Http1Error | 'more' {
    const want = 'HTTP/1.';
    for (let k = 0; k < want.length; k++, i++) {
      if (i === e) return complete ? codec('invalid_version', 'invalid HTTP version') : 'more';
      if (buf[i] !== want.charCodeAt(k)) return codec(k === 5 && buf[i] >= 0x30 && buf[i] <= 0x39 ? 'unsupported_version' : 'invalid_version', 'invalid HTTP version');
    }
    if (i === e) return complete ? codec('invalid_version', 'invalid HTTP version') : 'more';
    const minor = buf[i++];
    if (minor !== 0x30 && minor !== 0x31) return codec('unsupported_version', 'unsupported HTTP version');
    this.minor = minor - 0x30;
    return i;
  }
  /** Whether codings may follow chunked (responses: then the body runs to the close); a request is refused. */
  protected codingsAfterChunked = false;
  /** Rules checked once the whole head is in. */
  protected abstract finishHead(): Http1Error | null;

  reset(buf: Buffer, start: number): void {
    this.buf = buf;
    this.count = 0;
    this.minor = 1;
    this.contentLength = -1;
    this.transferEncoding = this.emptyTransferEncoding = this.chunked = this.connClose = this.connKeepAlive = this.connUpgrade = this.hasUpgradeHeader = this.expectContinue = false;
    this.host = -1;
    this.size = 0;
    this.emptyContentLength = false;
    this.pos = this.start = start;
    this.lineDone = false;
  }

  /** The head's bytes move to a new buffer where they start `delta` bytes earlier (an incomplete head kept across packets). */
  rebase(buf: Buffer, delta: number): void {
    this.buf = buf;
    this.pos -= delta;
    this.start -= delta;
    for (let k = 0; k < 4 * this.count; k++) this.offsets[k] -= delta;
  }

  /** Keep the connection open after this request (HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`, as llhttp has it). */
  get keepAlive(): boolean {
    // llhttp: HTTP/1.0 keeps the connection whenever keep-alive is listed, even beside close.
    return this.minor === 1 ? !this.connClose : this.connKeepAlive;
  }

  /**
   * Goes on parsing after more bytes arrived: `buf` holds the head from `start` (reset) on, up to
   * `end`. Returns 'done' (size set), 'more', or the error. With `eof`, an unterminated last line is
   * checked as far as it goes (an error in it is reported; otherwise 'more' means cut short).
   */
  feed(buf: Buffer, end: number, limits: HeadLimits, eof = false): 'done' | 'more' | Http1Error {
    this.buf = buf;
    let pos = this.pos;
    if (!this.lineDone) {
      // llhttp skips empty lines before a request line.
      while (pos < end && (buf[pos] === CR || buf[pos] === LF)) pos++;
      this.start = this.pos = pos;
    }
    for (;;) {
      const lf = buf.indexOf(LF, pos);
      const complete = lf !== -1 && lf < end;
      const lineEnd = complete ? lf : end;
      if (lineEnd - this.start > limits.maxHeadBytes) return new Http1Error(431, 'http1.headers_too_large', `head over ${limits.maxHeadBytes} bytes`);
      if (!complete && !eof) {
        this.pos = pos;
        return 'more';
      }
      if (complete && (lf === pos || buf[lf - 1] !== CR)) {
        if (!this.lineDone) return codec('invalid_start_line', 'start line not ended by CRLF');
        return codec(lf === pos ? 'invalid_header_name' : 'missing_cr', 'header line ended by a bare LF');
      }
      const e = complete ? lf - 1 : end;
      if (!this.lineDone) {
        const r = this.startLine(buf, pos, e, complete);
        if (r !== null) return r;
        this.lineDone = true;
      } else if (e === pos && complete) {
        // The blank line: the head is complete.
        const err = this.finishHead();
        if (err) return err;
        this.size = lf + 1 - this.start;
        this.pos = lf + 1;
        return 'done';
      } else {
        if (!complete && e === pos) return 'more';
        const before = this.count;
        const r = this.parseLine(buf, pos, e, complete);
        if (r === 'more') {
          // Cut short at end of input: a Content-Length or Transfer-Encoding value already wrong is an error now.
          if (this.count === before) return 'more';
          const err = this.onHeader(this.count - 1);
          this.count--;
          return err ?? 'more';
        }
        if (r !== null) return r;
        if (this.count > limits.maxHeaders) return new Http1Error(431, 'http1.too_many_headers', `more than ${limits.maxHeaders} header lines`);
        const err = this.onHeader(this.count - 1);
        if (err) return err;
      }
      if (!complete) return 'more';
      pos = lf + 1;
      this.pos = pos;
    }
  }

  /** Reads the framing headers off header line `k`. */
  protected onHeader(k: number): Http1Error | null {
    const o = this.offsets;
    const buf = this.buf;
    const vs = o[4 * k + 2];
    const ve = o[4 * k + 3];
    // Content-Length and Transfer-Encoding see trailing whitespace other than SP (llhttp: "3\t" is invalid, "chunked\t" is not chunked).
    let rawEnd = this.rawValueEnd;
    while (rawEnd > ve && buf[rawEnd - 1] === SP) rawEnd--;
    switch (special(buf, o[4 * k], o[4 * k + 1])) {
      case Special.ContentLength: {
        if (this.contentLength !== -1) return codec('multiple_content_length', 'more than one Content-Length');
        // Both framings at once is the smuggling shape: refused at the second header, as llhttp does (RFC 9112 §6.1).
        if (this.transferEncoding) return codec('content_length_and_chunked', 'Content-Length together with Transfer-Encoding');
        // llhttp reports an empty one when the head is complete.
        if (vs === ve) {
          this.emptyContentLength = true;
          return null;
        }
        let n = 0;
        for (let i = vs; i < rawEnd; i++) {
          const d = buf[i] - 0x30;
          if (d < 0 || d > 9) return codec('invalid_content_length', 'Content-Length is not a number');
          n = n * 10 + d;
          if (n > Number.MAX_SAFE_INTEGER) return codec('invalid_content_length', 'Content-Length too large');
        }
        this.contentLength = n;
        return null;
      }
      case Special.TransferEncoding:
        return this.onTransferEncoding(buf, vs, rawEnd);
      case Special.Connection:
        this.onConnection(buf, vs, ve);
        return null;
      case Special.Upgrade:
        this.hasUpgradeHeader = true;
        return null;
      case Special.Host:
        if (this.host === -1) this.host = k;
        return null;
      case Special.Expect:
        if (equalsIgnoreCase(buf, vs, ve, '100-continue')) this.expectContinue = true;
        return null;
      default:
        return null;
    }
  }

  /** Codings are comma-separated; chunked must be the last one, over all Transfer-Encoding lines. */
  private onTransferEncoding(buf: Buffer, vs: number, ve: number): Http1Error | null {
    if (vs === ve) {
      this.emptyTransferEncoding = true;
      return null;
    }
    if (this.contentLength !== -1) return codec('content_length_and_chunked', 'Transfer-Encoding together with Content-Length');
    this.transferEncoding = true;
    let i = vs;
    while (i < ve) {
      while (i < ve && (buf[i] === SP || buf[i] === HTAB || buf[i] === 0x2c)) {
        if (buf[i] === 0x2c && this.chunked) {
          // A request must end in chunked; a response whose codings go on after chunked is read to the close (llhttp).
          if (!this.codingsAfterChunked) return codec('invalid_transfer_encoding', 'a coding after chunked');
          this.chunked = false;
        }
        i++;
      }
      if (i === ve) break;
      let j = i;
      while (j < ve && buf[j] !== 0x2c) j++;
      let te = j;
      while (te > i && buf[te - 1] === SP) te--;
      if (this.chunked && !this.codingsAfterChunked) return codec('invalid_transfer_encoding', 'a coding after chunked');
      this.chunked = equalsIgnoreCase(buf, i, te, 'chunked');
      i = j;
    }
    return null;
  }

  private onConnection(buf: Buffer, vs: number, ve: number): void {
    let i = vs;
    while (i < ve) {
      let j = i;
      while (j < ve && buf[j] !== 0x2c) j++;
      let s = i;
      let e = j;
      while (s < e && (buf[s] === SP || buf[s] === HTAB)) s++;
      while (e > s && (buf[e - 1] === SP || buf[e - 1] === HTAB)) e--;
      if (equalsIgnoreCase(buf, s, e, 'close')) this.connClose = true;
      else if (equalsIgnoreCase(buf, s, e, 'keep-alive')) this.connKeepAlive = true;
      else if (equalsIgnoreCase(buf, s, e, 'upgrade')) this.connUpgrade = true;
      i = j + 1;
    }
  }

  /** An empty Content-Length, which llhttp reports once the head is complete. */
  protected framingError(): Http1Error | null {
    return this.emptyContentLength ? codec('invalid_content_length', 'empty Content-Length') : null;
  }
}

/** A request head: the request line, and Host and Expect besides the framing headers. */
export class RequestHead extends MessageHead {
  method = '';
  target = '';

  override reset(buf: Buffer, start: number): void {
    super.reset(buf, start);
    this.method = this.target = '';
  }

  /** The request is CONNECT, or asks to upgrade (Upgrade with `Connection: upgrade`): after the head, bytes are a tunnel. */
  get upgrade(): boolean {
    return this.method === 'CONNECT' || (this.hasUpgradeHeader && this.connUpgrade);
  }

  /** method SP request-target SP HTTP/1.x, as llhttp reads it (more spaces between the parts are skipped, as llhttp does). */
  protected startLine(buf: Buffer, s: number, e: number, complete: boolean): Http1Error | 'more' | null {
    if (!complete && e > s && buf[e - 1] === CR) e--;
    let i = s;
    while (i < e && TOKEN[buf[i]] === 1) i++;
    if (i === e && !complete) {
      // llhttp matches methods byte by byte: a start no method has is an error at once.
      const partial = buf.toString('latin1', s, i);
      return KNOWN_METHODS.some((m) => m.startsWith(partial)) ? 'more' : codec('invalid_method', 'invalid method');
    }
    if (buf[i] !== SP || i === s) return codec('invalid_method', 'invalid method');
    const method = knownMethod(buf, s, i);
    if (method === undefined) return codec('invalid_method', `unknown method ${buf.toString('latin1', s, Math.min(i, s + 32))}`);
    this.method = method;
    while (i < e && buf[i] === SP) i++;
    const ts = i;
    const t = method === 'CONNECT' ? this.authority(buf, i, e) : this.target_(buf, i, e);
    if (t === -2) return complete ? codec('http09_request', 'request line without a version (HTTP/0.9)') : 'more';
    if (t === -1) return codec('invalid_url', 'invalid character in the request target');
    i = t;
    this.target = buf.toString('latin1', ts, i);
    if (i === e) return complete ? codec('http09_request', 'request line without a version (HTTP/0.9)') : 'more';
    if (buf[i] !== SP) return codec('invalid_url', 'invalid character in the request target');
    while (i < e && buf[i] === SP) i++;
    const v = this.version(buf, i, e, complete);
    if (typeof v !== 'number') return v;
    i = v;
    if (i !== e) return codec('invalid_version', 'characters after the HTTP version');
    if (!complete) return 'more';
    // llhttp reads these lines whole, then stops (PRI: the HTTP/2 preface; the others are RTSP's).
    if (LATE_SET.has(method)) return codec('invalid_method', `${method} is not an HTTP/1.1 method`);
    return null;
  }

  /** origin-form, asterisk-form or absolute-form: the end of the target, -1 invalid, -2 ran out. */
  private target_(buf: Buffer, i: number, e: number): number {
    if (i === e) return -2;
    const c = buf[i];
    if (c === 0x2f || c === 0x2a) return this.path(buf, i + 1, e);
    if (!((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a)) return -1;
    // absolute-form: scheme "://" authority [path]
    while (i < e && (buf[i] | 0x20) >= 0x61 && (buf[i] | 0x20) <= 0x7a) i++;
    if (i === e) return -2;
    if (buf[i] !== 0x3a) return -1;
    for (let k = 1; k <= 2; k++) {
      if (i + k === e) return -2;
      if (buf[i + k] !== 0x2f) return -1;
    }
    return this.authority(buf, i + 3, e);
  }

  /** An authority (CONNECT's target, or inside absolute-form) then an optional path/query. */
  private authority(buf: Buffer, i: number, e: number): number {
    let prevAt = false;
    for (; i < e; i++) {
      const c = buf[i];
      if (c === SP) return i;
      if (c === 0x2f) return this.path(buf, i, e);
      if (c === 0x3f) return this.path(buf, i, e);
      if (c === 0x40) {
        if (prevAt) return -1;
        prevAt = true;
        continue;
      }
      prevAt = false;
      if (URL_SERVER[c] !== 1) return -1;
    }
    return -2;
  }

  /** Path, query and fragment: visible ASCII ('?' and '#' included, as llhttp's strict URL chars); ends at SP. */
  private path(buf: Buffer, i: number, e: number): number {
    for (; i < e; i++) {
      const c = buf[i];
      if (URL_PATH[c] === 1) continue;
      return c === SP ? i : -1;
    }
    return -2;
  }

  /** Framing rules checked once the head is complete (RFC 9112 §6.1, §6.3; llhttp's strict mode). */
  protected finishHead(): Http1Error | null {
    const framing = this.framingError();
    if (framing) return framing;
    if (this.minor === 1 && this.host === -1) return codec('missing_host_header', 'HTTP/1.1 request without Host');
    if (this.emptyTransferEncoding) return codec('invalid_transfer_encoding', 'an empty Transfer-Encoding');
    // A tunnel's bytes are not a body: llhttp leaves the framing of CONNECT and upgrades unchecked.
    if (this.upgrade) return null;
    if (this.transferEncoding && !this.chunked) return codec('invalid_transfer_encoding', 'Transfer-Encoding whose last coding is not chunked');
    return null;
  }
}

/**
 * A response head: `HTTP/1.x SP 3DIGIT [SP reason]`. Its framing is decided with the request it
 * answers (ResponseDecoder): a response's Transfer-Encoding without chunked last is not an error
 * but a body delimited by the connection's close (RFC 9112 §6.3).
 */
export class ResponseHead extends MessageHead {
  protected override codingsAfterChunked = true;
  status = 0;
  /** Offsets of the reason phrase in `buf`. */
  private reasonStart = 0;
  private reasonEnd = 0;

  override reset(buf: Buffer, start: number): void {
    super.reset(buf, start);
    this.status = this.reasonStart = this.reasonEnd = 0;
  }

  override rebase(buf: Buffer, delta: number): void {
    super.rebase(buf, delta);
    this.reasonStart -= delta;
    this.reasonEnd -= delta;
  }

  get reason(): string {
    return this.buf.toString('latin1', this.reasonStart, this.reasonEnd);
  }

  protected startLine(buf: Buffer, s: number, e: number, complete: boolean): Http1Error | 'more' | null {
    if (!complete && e > s && buf[e - 1] === CR) e--;
    const v = this.version(buf, s, e, complete);
    if (typeof v !== 'number') return v;
    let i = v;
    if (i === e) return complete ? codec('invalid_status', 'status line without a status') : 'more';
    if (buf[i++] !== SP) return codec('invalid_version', 'invalid HTTP version');
    let status = 0;
    for (let k = 0; k < 3; k++, i++) {
      if (i === e) return complete ? codec('invalid_status', 'status code of fewer than 3 digits') : 'more';
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) return codec('invalid_status', 'invalid status code');
      status = status * 10 + d;
    }
    this.status = status;
    this.reasonStart = this.reasonEnd = i;
    if (i < e) {
      if (buf[i++] !== SP) return codec('invalid_status', 'invalid status code');
      this.reasonStart = i;
      // llhttp takes any byte but CR and LF in a reason phrase (nobody reads it). A lone CR it skips over; we refuse it.
      for (; i < e; i++) if (buf[i] === CR) return codec('cr_in_reason', 'CR in the reason phrase');
      this.reasonEnd = e;
    }
    return complete ? null : 'more';
  }

  protected finishHead(): Http1Error | null {
    return this.framingError();
  }
}
