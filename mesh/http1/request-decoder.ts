import { Accumulator } from './accumulator';
import { ChunkedDecoder } from './body';
import { Http1Error, RequestHead, type HeaderLines, type HeadLimits } from './head';

/** What a connection hears from its decoder, in order, for each request. */
export interface RequestEvents {
  /** A complete, valid head. Framing is known (`head.contentLength`, `head.chunked`, `head.upgrade`). */
  onHead(head: RequestHead): void;
  /** Body bytes exactly as received (chunked framing included): what a proxy forwards. After an upgrade head: tunnel bytes. */
  onBody(raw: Buffer): void;
  /** The body's payload (chunked framing removed); optional. */
  onData?(payload: Buffer): void;
  /** The request is complete (body and trailers). */
  onMessageComplete(head: RequestHead): void;
  /** The connection's bytes broke HTTP/1.1: answer `err.status` and close. Nothing more is parsed. */
  onError(err: Http1Error): void;
}

const enum State {
  Head,
  Length,
  Chunked,
  Tunnel,
  /** After a request without keep-alive: any further byte is an error, as llhttp has it. */
  Closed,
  Failed,
}

/**
 * Splits one downstream connection's bytes into requests: head (RequestHead), then the body by its
 * framing (Content-Length countdown, or chunked tracked by ChunkedDecoder), then the next request.
 * A head split over packets is accumulated; a head and body in one packet cost no copy. After an
 * Upgrade or CONNECT head the rest is tunnel bytes. The decoder can be paused between requests
 * (a proxy answers one request at a time): bytes of the next request wait until resume().
 */
export class RequestDecoder {
  readonly head = new RequestHead();
  private readonly chunked: ChunkedDecoder;
  private state = State.Head;
  private remaining = 0;
  /** Bytes of an incomplete head, or bytes held while paused. */
  /** Bytes held between pushes: an incomplete head (from its first byte), or bytes that arrived while paused. */
  private readonly pending = new Accumulator();
  /** A head is being parsed (it starts at byte 0 of `pending` between pushes). */
  private headStarted = false;
  private paused = false;

  constructor(
    private readonly events: RequestEvents,
    private readonly limits: HeadLimits,
  ) {
    this.chunked = new ChunkedDecoder(limits);
  }

  /** The trailers of the request just completed, when it was chunked (read them in onMessageComplete). */
  get trailers(): HeaderLines | null {
    return this.head.chunked ? this.chunked.trailers : null;
  }

  /** Bytes held for a request not yet parsed (a head cut short, or bytes that arrived while paused). */
  get held(): number {
    return this.pending.length;
  }

  /** Stop after the current request completes; later bytes are held until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (!this.pending.empty && !this.headStarted) {
      const held = Buffer.from(this.pending.view);
      this.pending.clear();
      this.push(held);
    }
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
        case State.Head: {
          if (this.paused) {
            if (!fromPending || i > 0) this.pending.reset(buf.subarray(i));
            return;
          }
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
          this.events.onHead(head);
          if (this.state !== State.Head) return;
          if (head.upgrade) this.state = State.Tunnel;
          else if (head.chunked) {
            this.chunked.reset();
            this.state = State.Chunked;
          } else if (head.contentLength > 0) {
            this.remaining = head.contentLength;
            this.state = State.Length;
          } else this.complete();
          break;
        }
        case State.Length: {
          const n = Math.min(this.remaining, buf.length - i);
          const part = buf.subarray(i, i + n);
          this.events.onBody(part);
          this.events.onData?.(part);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case State.Chunked: {
          const onData = this.events.onData;
          const stop = this.chunked.execute(buf, i, buf.length, onData ? (b, s, e) => onData(b.subarray(s, e)) : undefined);
          if (this.chunked.error) return this.fail(this.chunked.error);
          if (stop > i) this.events.onBody(buf.subarray(i, stop));
          i = stop;
          if (this.chunked.done) this.complete();
          break;
        }
        case State.Tunnel:
          this.events.onBody(i === 0 ? buf : buf.subarray(i));
          return;
        case State.Closed:
          // CR and LF after the last request are skipped, as llhttp's closed state does; anything else is an error.
          while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
          if (i === buf.length) return;
          return this.fail(new Http1Error(400, 'http1.codec_error{data_after_close}', 'bytes after a request that closes the connection'));
        case State.Failed:
          return;
      }
    }
  }

  /** The peer finished sending: 'clean' between requests, 'incomplete' mid-request, or the error found in the partial bytes. */
  end(): 'clean' | 'incomplete' | Http1Error {
    switch (this.state) {
      case State.Head: {
        if (this.pending.empty || !this.headStarted || this.head.start >= this.pending.length) return 'clean';
        const r = this.head.feed(this.pending.view, this.pending.length, this.limits, true);
        return r === 'more' || r === 'done' ? 'incomplete' : r;
      }
      case State.Chunked:
        return this.chunked.atEof() ?? 'incomplete';
      case State.Length:
        return 'incomplete';
      case State.Failed:
        return 'incomplete';
      default:
        return 'clean';
    }
  }

  private complete(): void {
    const head = this.head;
    this.state = head.keepAlive ? State.Head : State.Closed;
    this.events.onMessageComplete(head);
  }

  private fail(err: Http1Error): void {
    this.state = State.Failed;
    this.pending.clear();
    this.events.onError(err);
  }
}
