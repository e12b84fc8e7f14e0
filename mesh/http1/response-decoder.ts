import { Accumulator } from './accumulator';
import { ChunkedDecoder } from './body';
import { Http1Error, ResponseHead, type HeaderLines, type HeadLimits } from './head';

/** What an upstream connection hears from its decoder, in order, for each response. */
export interface ResponseEvents {
  /** An interim 1xx head (100 Continue, 103 Early Hints; not 101): the final response follows. */
  onInformational?(head: ResponseHead): void;
  /** The final head. Framing is known: `bodyKind` says how the body ends. */
  onHead(head: ResponseHead): void;
  /** Body bytes exactly as received (chunked framing included). After a 101 or a CONNECT 2xx: tunnel bytes. */
  onBody(raw: Buffer): void;
  onData?(payload: Buffer): void;
  /** The response is complete. `keepAlive`: the connection may carry another request. */
  onMessageComplete(head: ResponseHead, keepAlive: boolean): void;
  onError(err: Http1Error): void;
}

export type BodyKind = 'none' | 'length' | 'chunked' | 'close' | 'tunnel';

const enum State {
  Idle,
  Head,
  Length,
  Chunked,
  Close,
  Tunnel,
  Failed,
}

/**
 * Splits an upstream connection's bytes into responses, each framed by the request it answers
 * (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; a tunnel after 101 or a CONNECT 2xx;
 * chunked when Transfer-Encoding ends in chunked; else Content-Length; else the body runs to the
 * connection's close (end()). Call expect() before each request is sent.
 */
export class ResponseDecoder {
  readonly head = new ResponseHead();
  private readonly chunked: ChunkedDecoder;
  private state = State.Idle;
  private remaining = 0;
  /** Bytes held between pushes: an incomplete head (from its first byte), or bytes that arrived while paused. */
  private readonly pending = new Accumulator();
  private method = 'GET';
  private upgrade = false;
  bodyKind: BodyKind = 'none';

  constructor(
    private readonly events: ResponseEvents,
    private readonly limits: HeadLimits,
  ) {
    this.chunked = new ChunkedDecoder(limits);
  }

  /** The next bytes answer a request with this method (`upgrade`: it asked to upgrade, so a 101 starts a tunnel). */
  expect(method: string, upgrade = false): void {
    this.method = method;
    this.upgrade = upgrade;
    this.state = State.Head;
    this.pending.clear();
    this.headStarted = false;
  }

  private headStarted = false;

  get trailers(): HeaderLines | null {
    return this.bodyKind === 'chunked' ? this.chunked.trailers : null;
  }

  /** Whether bytes now would be unexpected (no request is waiting for its response). */
  get idle(): boolean {
    return this.state === State.Idle;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    let i = 0;
    const fromPending = !this.pending.empty;
    if (fromPending) {
      // An incomplete head (or bytes held while paused) starts at byte 0 of `pending`.
      buf = this.pending.append(chunk);
      if (this.headStarted) this.head.rebase(buf, 0);
    }
    while (i < buf.length) {
      switch (this.state) {
        case State.Idle:
          return this.fail(new Http1Error(400, 'http1.codec_error{unsolicited_response}', 'bytes from upstream with no request waiting'));
        case State.Head: {
          const head = this.head;
          if (!this.headStarted) {
            head.reset(buf, i);
            this.headStarted = true;
          }
          const r = head.feed(buf, buf.length, this.limits);
          if (r === 'more') {
            // Keep the head from its first byte: the caller may reuse its buffer.
            const from = Math.min(head.start, i);
            if (!fromPending || from > 0) head.rebase(this.pending.reset(buf.subarray(from)), from);
            return;
          }
          this.pending.clear();
          if (r !== 'done') return this.fail(r);
          this.headStarted = false;
          i = head.start + head.size;
          const status = head.status;
          if (status >= 100 && status < 200 && status !== 101) {
            this.events.onInformational?.(head);
            break;
          }
          this.bodyKind = this.framing(head);
          if (this.bodyKind === 'chunked') this.chunked.reset();
          this.events.onHead(head);
          if (this.state !== State.Head) return;
          switch (this.bodyKind) {
            case 'none':
              this.complete(true);
              break;
            case 'length':
              this.remaining = head.contentLength;
              this.state = State.Length;
              break;
            case 'chunked':
              this.state = State.Chunked;
              break;
            case 'close':
              this.state = State.Close;
              break;
            case 'tunnel':
              this.state = State.Tunnel;
              break;
          }
          break;
        }
        case State.Length: {
          const n = Math.min(this.remaining, buf.length - i);
          const part = buf.subarray(i, i + n);
          this.events.onBody(part);
          this.events.onData?.(part);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.complete(true);
          break;
        }
        case State.Chunked: {
          const onData = this.events.onData;
          const stop = this.chunked.execute(buf, i, buf.length, onData ? (b, s, e) => onData(b.subarray(s, e)) : undefined);
          if (this.chunked.error) return this.fail(this.chunked.error);
          if (stop > i) this.events.onBody(buf.subarray(i, stop));
          i = stop;
          if (this.chunked.done) this.complete(true);
          break;
        }
        case State.Close:
        case State.Tunnel: {
          const part = i === 0 ? buf : buf.subarray(i);
          this.events.onBody(part);
          if (this.state === State.Close) this.events.onData?.(part);
          return;
        }
        case State.Failed:
          return;
      }
    }
  }

  /** The upstream closed its side: completes a close-delimited body; 'incomplete' when a response was cut short. */
  end(): 'clean' | 'incomplete' | Http1Error {
    switch (this.state) {
      case State.Close:
        this.complete(false);
        return 'clean';
      case State.Idle:
      case State.Tunnel:
        return 'clean';
      case State.Head: {
        if (this.pending.empty || !this.headStarted) return 'incomplete';
        const r = this.head.feed(this.pending.view, this.pending.length, this.limits, true);
        return r === 'more' || r === 'done' ? 'incomplete' : r;
      }
      case State.Chunked:
        return this.chunked.atEof() ?? 'incomplete';
      default:
        return 'incomplete';
    }
  }

  private framing(head: ResponseHead): BodyKind {
    const status = head.status;
    if ((status === 101 && this.upgrade) || (this.method === 'CONNECT' && status >= 200 && status < 300)) return 'tunnel';
    // A 101 nobody asked for has no body, as Node's client reads it.
    if (this.method === 'HEAD' || status === 101 || status === 204 || status === 304) return 'none';
    if (head.transferEncoding) return head.chunked ? 'chunked' : 'close';
    if (head.contentLength >= 0) return head.contentLength === 0 ? 'none' : 'length';
    return 'close';
  }

  private complete(framed: boolean): void {
    const head = this.head;
    this.state = State.Idle;
    this.events.onMessageComplete(head, framed && head.keepAlive);
  }

  private fail(err: Http1Error): void {
    this.state = State.Failed;
    this.pending.clear();
    this.events.onError(err);
  }
}
