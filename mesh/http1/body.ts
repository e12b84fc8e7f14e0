import { CR, HEX, LF, QDTEXT, TOKEN } from './chars';
import { HeaderLines, Http1Error, type HeadLimits } from './head';

/**
 * Chunked transfer coding (RFC 9112 §7.1) tracked, not re-encoded: the decoder walks the framing
 * byte by byte so the proxy knows where the body ends (and how many payload bytes it carried), while
 * the connection manager forwards the received bytes as they are. As strict as llhttp: hex sizes
 * with no whitespace, chunk extensions as tokens or quoted strings, CRLF everywhere (a bare LF is an
 * error), trailers under the header rules.
 */
const enum S {
  SizeStart,
  Size,
  ExtNameStart,
  ExtName,
  ExtValueStart,
  ExtValue,
  ExtQuoted,
  ExtQuotedEscape,
  ExtAfterQuote,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailers,
  Done,
}

const bad = (what: string, message: string): Http1Error => new Http1Error(400, `http1.codec_error{${what}}`, message);

/** Trailer lines after the last chunk: header lines until a blank line. */
export class TrailerLines extends HeaderLines {
  private pos = 0;
  size = 0;

  reset(): void {
    this.count = 0;
    this.pos = 0;
    this.size = 0;
    this.buf = Buffer.alloc(0);
  }

  /** Parses what `buf` (all trailer bytes so far) holds: 'done' once the blank line arrived (size set). */
  feed(buf: Buffer, limits: HeadLimits, eof: boolean): 'done' | 'more' | Http1Error {
    this.buf = buf;
    for (;;) {
      const pos = this.pos;
      const lf = buf.indexOf(LF, pos);
      if (lf === -1) {
        if (buf.length > limits.maxHeadBytes) return new Http1Error(431, 'http1.headers_too_large', `trailers over ${limits.maxHeadBytes} bytes`);
        if (eof && buf.length > pos) {
          const r = this.parseLine(buf, pos, buf.length, false);
          if (r !== 'more' && r !== null) return r;
        }
        return 'more';
      }
      if (lf === pos || buf[lf - 1] !== CR) return bad('missing_cr', 'trailer line ended by a bare LF');
      if (lf - 1 === pos) {
        this.size = lf + 1;
        return 'done';
      }
      const r = this.parseLine(buf, pos, lf - 1, true);
      if (r !== null) return r as Http1Error;
      if (this.count > limits.maxHeaders) return new Http1Error(431, 'http1.too_many_headers', `more than ${limits.maxHeaders} trailer lines`);
      this.pos = lf + 1;
    }
  }
}

export class ChunkedDecoder {
  private state = S.SizeStart;
  private size = 0;
  /** Payload bytes of the message so far. */
  payloadBytes = 0;
  error: Http1Error | null = null;
  readonly trailers = new TrailerLines();
  private trailerBytes: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: HeadLimits) {}

  reset(): void {
    this.state = S.SizeStart;
    this.size = this.payloadBytes = 0;
    this.error = null;
    this.trailers.reset();
    this.trailerBytes = Buffer.alloc(0);
  }

  get done(): boolean {
    return this.state === S.Done;
  }

  /**
   * Walks buf[i, end): payload ranges go to `onData`. Returns where it stopped: `end`, or the byte
   * after the message's last byte once done, or where the framing broke (then `error` is set).
   */
  execute(buf: Buffer, i: number, end: number, onData?: (buf: Buffer, s: number, e: number) => void): number {
    while (i < end) {
      const c = buf[i];
      switch (this.state) {
        case S.SizeStart:
        case S.Size: {
          const h = HEX[c];
          if (h !== -1) {
            this.size = this.size * 16 + h;
            if (this.size > Number.MAX_SAFE_INTEGER) return this.fail(i, bad('invalid_chunk_size', 'chunk size too large'));
            this.state = S.Size;
            break;
          }
          if (this.state === S.SizeStart) return this.fail(i, bad('invalid_chunk_size', 'invalid character in a chunk size'));
          if (c === CR) this.state = S.SizeLf;
          else if (c === 0x3b) this.state = S.ExtNameStart;
          else if (c === LF) return this.fail(i, bad('invalid_chunk_size', 'chunk size ended by a bare LF'));
          else return this.fail(i, bad('invalid_chunk_size', 'invalid character in a chunk size'));
          break;
        }
        case S.ExtNameStart:
          if (TOKEN[c] !== 1) return this.fail(i, bad('invalid_chunk_extension', 'invalid chunk extension name'));
          this.state = S.ExtName;
          break;
        case S.ExtName:
          if (TOKEN[c] === 1) break;
          if (c === 0x3d) this.state = S.ExtValueStart;
          else if (c === 0x3b) this.state = S.ExtNameStart;
          else if (c === CR) this.state = S.SizeLf;
          else return this.fail(i, bad('invalid_chunk_extension', 'invalid chunk extension name'));
          break;
        case S.ExtValueStart:
        case S.ExtValue:
          // A token value (possibly empty), or a quoted string right after '='.
          if (c === 0x22 && this.state === S.ExtValueStart) this.state = S.ExtQuoted;
          else if (TOKEN[c] === 1) this.state = S.ExtValue;
          else if (c === 0x3b) this.state = S.ExtNameStart;
          else if (c === CR) this.state = S.SizeLf;
          else return this.fail(i, bad('invalid_chunk_extension', 'invalid chunk extension value'));
          break;
        case S.ExtQuoted:
          if (c === 0x22) this.state = S.ExtAfterQuote;
          else if (c === 0x5c) this.state = S.ExtQuotedEscape;
          else if (QDTEXT[c] !== 1) return this.fail(i, bad('invalid_chunk_extension', 'invalid chunk extension quoted value'));
          break;
        case S.ExtQuotedEscape:
          if (c !== 0x09 && (c < 0x20 || c === 0x7f)) return this.fail(i, bad('invalid_chunk_extension', 'invalid chunk extension quoted value'));
          this.state = S.ExtQuoted;
          break;
        case S.ExtAfterQuote:
          if (c === 0x3b) this.state = S.ExtNameStart;
          else if (c === CR) this.state = S.SizeLf;
          else return this.fail(i, bad('invalid_chunk_extension', 'invalid chunk extension quoted value'));
          break;
        case S.SizeLf:
          if (c !== LF) return this.fail(i, bad('invalid_chunk_size', 'chunk size line without LF after CR'));
          this.state = this.size === 0 ? S.Trailers : S.Data;
          break;
        case S.Data: {
          const n = Math.min(this.size, end - i);
          if (onData) onData(buf, i, i + n);
          this.payloadBytes += n;
          this.size -= n;
          i += n;
          if (this.size === 0) this.state = S.DataCr;
          continue;
        }
        case S.DataCr:
          if (c !== CR) return this.fail(i, bad('invalid_chunk_data', c === LF ? 'chunk data ended by a bare LF' : 'chunk data longer than its size'));
          this.state = S.DataLf;
          break;
        case S.DataLf:
          if (c !== LF) return this.fail(i, bad('invalid_chunk_data', 'chunk data not ended by CRLF'));
          this.state = S.SizeStart;
          break;
        case S.Trailers: {
          const before = this.trailerBytes.length;
          this.trailerBytes = before === 0 ? buf.subarray(i, end) : Buffer.concat([this.trailerBytes, buf.subarray(i, end)]);
          const r = this.trailers.feed(this.trailerBytes, this.limits, false);
          if (r === 'more') {
            // Keep our own copy: the caller's buffer may be reused.
            if (before === 0) this.trailerBytes = Buffer.from(this.trailerBytes);
            return end;
          }
          if (r !== 'done') return this.fail(i, r);
          this.state = S.Done;
          return i + (this.trailers.size - before);
        }
        case S.Done:
          return i;
      }
      i++;
    }
    return i;
  }

  /** At end of input: an error hidden in unterminated trailers, or null (then the body is cut short unless done). */
  atEof(): Http1Error | null {
    if (this.state !== S.Trailers || this.trailerBytes.length === 0) return null;
    const r = this.trailers.feed(this.trailerBytes, this.limits, true);
    return r === 'more' || r === 'done' ? null : r;
  }

  private fail(i: number, err: Http1Error): number {
    this.error = err;
    return i;
  }
}
