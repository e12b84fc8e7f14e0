import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeader } from 'node:http';
import type net from 'node:net';
import { RequestDecoder, type RequestEvents } from './request-decoder';
import type { Http1Error, RequestHead } from './head';
import type { Deadline } from './deadlines';

/**
 * One downstream HTTP/1.1 connection on a raw `net`/`tls` socket, driven by RequestDecoder: Envoy's
 * HTTP/1 ServerConnectionImpl and the connection-level half of its connection manager. One request
 * at a time (as Envoy's codec, it reads the next pipelined request only once the current response
 * is done, so responses leave in order), keep-alive, `Expect: 100-continue` answered at once (as
 * Node's http.Server does by default), head and body in one write (a small body copied behind the
 * head, a large one corked beside it), bodies framed by what the
 * response says (Content-Length, else chunked, else to the close for HTTP/1.0; none for HEAD, 1xx,
 * 204, 304), 400/431 and close on any parse error, and no timer of its own: the listener's
 * Deadlines sweep asks `deadline()` (headers timeout while a head is arriving, idle timeout mid
 * request, keep-alive timeout between requests).
 *
 * The request and response objects carry the part of Node's IncomingMessage/ServerResponse that
 * the connection manager, the router and the upstream attempt use (same names, same events), so
 * every policy above runs unchanged on either listener. Where we differ from Node's server: no
 * `Date`/`Keep-Alive` header is added (Envoy adds neither to a proxied response), an Upgrade
 * request is forwarded as a plain request (the upgrade headers are hop-by-hop) and its connection
 * closed after the answer, since no tunnel is opened; CONNECT is refused by closing, as Node's
 * server without a 'connect' listener does.
 */

export interface ServerLimits {
  /** Bytes of a request head; more → 431 and close. */
  maxHeaderSize: number;
  /** The connection manager's header-count limit; the codec lets one more through so the manager answers (and logs) the 431. */
  maxHeadersCount: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  checkIntervalMs: number;
}

/** What the connection needs from the server that accepted it. */
export interface ConnectionOwner {
  readonly limits: ServerLimits;
  /** Responses carry `connection: close` and the connection closes after them. */
  readonly draining: boolean;
  handle(req: ServerRequest, res: DownstreamResponse): void;
  closed(conn: ServerConnection): void;
}

const now = (): number => performance.now();
const noop = (): void => undefined;

/** Headers Node's IncomingMessage keeps only the first of (its `matchKnownFields` list). */
const FIRST_WINS = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

/** `req.headers` as Node builds it from the raw lines: lower-case names, repeated values joined (`; ` for cookie), set-cookie an array. */
function headersObject(raw: string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    const prev = out[name];
    if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (!FIRST_WINS.has(name)) out[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out as IncomingHttpHeaders;
}

/** A downstream request: its head as strings, its body (payload, framing removed) as a Readable. */
export class DownstreamRequest extends Readable {
  /** The whole request (body and trailers) has been received. */
  complete = false;
  private headersObj?: IncomingHttpHeaders;

  constructor(
    readonly socket: net.Socket,
    private readonly conn: ServerConnection,
    public method: string,
    public url: string,
    readonly httpVersionMinor: number,
    /** [name, value, …] in original case, as Node's rawHeaders. */
    readonly rawHeaders: string[],
  ) {
    super();
  }

  get httpVersion(): string {
    return this.httpVersionMinor === 1 ? '1.1' : '1.0';
  }

  get headers(): IncomingHttpHeaders {
    return (this.headersObj ??= headersObject(this.rawHeaders));
  }

  override _read(): void {
    this.conn.readBody();
  }
}

/**
 * A request without a body (most of them): the same fields and events as DownstreamRequest, on a plain
 * EventEmitter — no Readable (its state object, its buffer list) per request when there is nothing to read.
 */
export class BodylessRequest extends EventEmitter {
  readonly complete = true;
  destroyed = false;
  readonly readable = false;
  private headersObj?: IncomingHttpHeaders;

  constructor(
    readonly socket: net.Socket,
    public method: string,
    public url: string,
    readonly httpVersionMinor: number,
    readonly rawHeaders: string[],
  ) {
    super();
  }

  get httpVersion(): string {
    return this.httpVersionMinor === 1 ? '1.1' : '1.0';
  }

  get headers(): IncomingHttpHeaders {
    return (this.headersObj ??= headersObject(this.rawHeaders));
  }

  resume(): this {
    return this;
  }

  pause(): this {
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/** What the handler gets: a request with a body to read, or one without. */
export type ServerRequest = DownstreamRequest | BodylessRequest;

type HeaderValue = OutgoingHttpHeader | undefined;

/** A downstream response: Node's ServerResponse calls, written straight to the socket. */
export class DownstreamResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  destroyed = false;
  writableEnded = false;
  writableFinished = false;
  /** The connection closes once this response is sent. */
  closeAfter: boolean;
  private stored?: Record<string, HeaderValue>;
  /** The head, not yet on the wire: it goes out with the first body bytes (one write). */
  private pendingHead = '';
  private chunked = false;
  private noBody: boolean;

  constructor(
    private readonly conn: ServerConnection,
    readonly socket: net.Socket,
    isHead: boolean,
    private readonly minor: number,
    keepAlive: boolean,
  ) {
    super();
    this.noBody = isHead;
    this.closeAfter = !keepAlive;
  }

  setHeader(name: string, value: OutgoingHttpHeader): this {
    (this.stored ??= {})[name.toLowerCase()] = value;
    return this;
  }

  getHeader(name: string): HeaderValue {
    return this.stored?.[name.toLowerCase()];
  }

  removeHeader(name: string): void {
    if (this.stored) delete this.stored[name.toLowerCase()];
  }

  writeHead(status: number, reasonOrHeaders?: string | Record<string, HeaderValue>, maybeHeaders?: Record<string, HeaderValue>): this {
    if (this.headersSent) return this;
    const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : (STATUS_CODES[status] ?? 'unknown');
    const headers = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
    this.statusCode = status;
    this.headersSent = true;
    if (status === 204 || status === 304 || status < 200) this.noBody = true;
    let head = `HTTP/1.1 ${status} ${reason}\r\n`;
    let hasLength = false;
    let connection = false;
    const stored = this.stored;
    if (stored) {
      for (const name in stored) {
        if (headers && headers[name] !== undefined) continue;
        const r = this.line(name, stored[name]);
        head += r;
        if (name === 'content-length') hasLength = r !== '';
        else if (name === 'connection') connection = true;
      }
    }
    if (headers) {
      for (const name in headers) {
        const r = this.line(name, headers[name]);
        head += r;
        const lower = name.length === 14 || name.length === 10 ? name.toLowerCase() : '';
        if (lower === 'content-length') hasLength = r !== '';
        else if (lower === 'connection') connection = true;
      }
    }
    if (this.conn.owner.draining) this.closeAfter = true;
    if (!this.noBody && !hasLength) {
      if (this.minor === 1) {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      } else this.closeAfter = true;
    }
    if (!connection) {
      if (this.closeAfter) head += 'connection: close\r\n';
      else if (this.minor === 0) head += 'connection: keep-alive\r\n';
    }
    this.pendingHead = `${head}\r\n`;
    return this;
  }

  /** One header line (or one per array element); a value with CR or LF is dropped, never written (no response splitting). */
  private line(name: string, value: HeaderValue): string {
    if (value === undefined) return '';
    if (Array.isArray(value)) {
      let out = '';
      for (const v of value) out += this.line(name, v);
      return out;
    }
    const v = typeof value === 'string' ? value : String(value);
    if (name.length === 10 && name.toLowerCase() === 'connection' && /\bclose\b/i.test(v)) this.closeAfter = true;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return '';
    if (v.indexOf('\n') >= 0 || v.indexOf('\r') >= 0) return '';
    return `${name}: ${v}\r\n`;
  }

  write(chunk: Buffer | string): boolean {
    if (this.destroyed || this.writableEnded) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const socket = this.socket;
    this.conn.touch();
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.noBody || len === 0) {
      if (this.pendingHead) {
        socket.write(this.pendingHead, 'latin1');
        this.pendingHead = '';
      }
      return !socket.writableNeedDrain;
    }
    const prefix = this.chunked ? `${this.pendingHead}${len.toString(16)}\r\n` : this.pendingHead;
    this.pendingHead = '';
    return this.send(prefix, chunk, len, this.chunked ? '\r\n' : '');
  }

  /**
   * prefix (latin1: the head and/or a chunk-size line), the body bytes, suffix (chunk framing) as one write: a small
   * body is copied behind the head into one buffer (one plain write; the cork/writev path costs more than the copy),
   * a large one goes corked beside it (one writev, no copy).
   */
  private send(prefix: string, chunk: Buffer | string, len: number, suffix: string, cb?: () => void): boolean {
    const socket = this.socket;
    if (len <= COPY_BELOW) {
      const p = prefix.length;
      const buf = Buffer.allocUnsafe(p + len + suffix.length);
      if (p > 0) buf.write(prefix, 0, 'latin1');
      if (typeof chunk === 'string') buf.write(chunk, p, 'utf8');
      else chunk.copy(buf, p);
      if (suffix) buf.write(suffix, p + len, 'latin1');
      return socket.write(buf, cb);
    }
    socket.cork();
    if (prefix) socket.write(prefix, 'latin1');
    let ok = socket.write(chunk, suffix ? undefined : cb);
    if (suffix) ok = socket.write(suffix, 'latin1', cb);
    socket.uncork();
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded) return this;
    if (this.destroyed) {
      this.writableEnded = true;
      return this;
    }
    const socket = this.socket;
    if (!this.headersSent) {
      // Node's res.end(data) with no head yet: the length is known, so it is said.
      const len = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (this.getHeader('content-length') === undefined && !this.noBody && this.statusCode !== 204 && this.statusCode !== 304) this.setHeader('content-length', len);
      this.writeHead(this.statusCode);
    }
    this.writableEnded = true;
    this.conn.touch();
    const body = chunk !== undefined && !this.noBody && (typeof chunk === 'string' ? chunk.length > 0 : chunk.length > 0);
    if (body) {
      const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
      const prefix = this.chunked ? `${this.pendingHead}${len.toString(16)}\r\n` : this.pendingHead;
      this.pendingHead = '';
      this.send(prefix, chunk as Buffer | string, len, this.chunked ? '\r\n0\r\n\r\n' : '', this.conn.responseFlushed);
    } else {
      const last = `${this.pendingHead}${this.chunked ? '0\r\n\r\n' : ''}`;
      this.pendingHead = '';
      if (last) socket.write(last, 'latin1', this.conn.responseFlushed);
      else process.nextTick(this.conn.responseFlushed);
    }
    return this;
  }

  /** Cuts the response (and the connection: an HTTP/1.1 response cannot be cut otherwise). */
  destroy(_err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.socket.destroy();
    return this;
  }

  /** Node's API; a no-op here (no timer per response). */
  setTimeout(): this {
    return this;
  }
}

const enum Phase {
  /** Between requests: waiting for a head (keep-alive timeout, or headers timeout once its first byte came). */
  Idle,
  /** A request is being answered. */
  Active,
  /** Our FIN is sent (or about to be): the peer is expected to close. */
  Closing,
  Closed,
}

/** Body bytes up to this are copied behind the head into one buffer; larger ones are written beside it (writev). */
const COPY_BELOW = 16 * 1024;

/** Held pipelined bytes beyond this pause reading until the current response is done. */
const MAX_HELD = 64 * 1024;

function abortedError(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error('aborted');
  err.code = 'ECONNRESET';
  return err;
}

export class ServerConnection implements RequestEvents, Deadline {
  private readonly decoder: RequestDecoder;
  private phase = Phase.Idle;
  private req?: ServerRequest;
  private res?: DownstreamResponse;
  private reqComplete = true;
  private resFinished = true;
  /** The rest of a request body nobody will read (its response is already sent) is read and dropped. */
  private dumping = false;
  /** The socket was paused for backpressure (request body) or for held pipelined bytes. */
  private readPaused = false;
  private headStartedAt = 0;
  private lastActivity = now();
  /** The peer half-closed. */
  private peerEnded = false;

  constructor(
    readonly socket: net.Socket,
    readonly owner: ConnectionOwner,
  ) {
    this.decoder = new RequestDecoder(this, { maxHeadBytes: owner.limits.maxHeaderSize, maxHeaders: owner.limits.maxHeadersCount + 1 });
    socket.setNoDelay(true);
    socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.on('close', this.onSocketClose);
    socket.on('error', noop);
    socket.on('drain', this.onDrain);
  }

  /** No request in flight (drain closes these at once). */
  get idle(): boolean {
    return this.phase === Phase.Idle && this.headStartedAt === 0;
  }

  touch(): void {
    this.lastActivity = now();
  }

  /** Closes the connection at once (drain's last step, or an idle one). */
  destroy(): void {
    this.socket.destroy();
  }

  // ----- Deadline -----

  deadline(): number {
    const l = this.owner.limits;
    switch (this.phase) {
      case Phase.Active:
        return this.lastActivity + l.idleTimeoutMs;
      case Phase.Idle:
        return this.headStartedAt > 0 ? this.headStartedAt + l.headersTimeoutMs : this.lastActivity + l.keepAliveTimeoutMs;
      case Phase.Closing:
        return this.lastActivity + l.headersTimeoutMs;
      default:
        return 0;
    }
  }

  expire(): void {
    if (this.phase === Phase.Idle && this.headStartedAt > 0) {
      // Node's headers timeout answer (slowloris): 408, then close.
      this.headStartedAt = 0;
      return this.reply(408, 'Request Timeout');
    }
    this.socket.destroy();
  }

  // ----- socket -----

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.phase >= Phase.Closing) return;
    const t = now();
    this.lastActivity = t;
    if (this.phase === Phase.Idle && this.headStartedAt === 0) this.headStartedAt = t;
    this.decoder.push(chunk);
    if (this.phase === Phase.Active && this.reqComplete && this.decoder.held > MAX_HELD) this.pauseReading();
  };

  private readonly onSocketEnd = (): void => {
    this.peerEnded = true;
    const r = this.decoder.end();
    if (this.phase === Phase.Active) {
      if (!this.reqComplete && !this.dumping) {
        // The body was cut short: the request is aborted, as Node's server reports it.
        this.abortRequest();
        if (this.res && !this.res.headersSent) {
          this.res.destroyed = true;
          return this.reply(400, 'Bad Request');
        }
      }
      // Node's server and Envoy's HTTP/1 codec alike take a client's FIN mid-request as its going away (DC), unless
      // the answer is already written whole.
      if (!this.res?.writableEnded) this.socket.destroy();
      return;
    }
    if (this.phase === Phase.Idle && r !== 'clean' && typeof r !== 'string') return this.reply(r.status, STATUS_CODES[r.status] ?? 'Bad Request');
    this.closeNow();
  };

  private readonly onSocketClose = (): void => {
    const was = this.phase;
    this.phase = Phase.Closed;
    this.owner.closed(this);
    if (was === Phase.Active) {
      if (!this.reqComplete) this.abortRequest();
      const res = this.res;
      if (res && !this.resFinished) {
        res.destroyed = true;
        this.resFinished = true;
        res.emit('close');
      }
    }
    this.req = this.res = undefined;
  };

  private readonly onDrain = (): void => {
    this.res?.emit('drain');
  };

  private pauseReading(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.socket.pause();
  }

  private resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    this.socket.resume();
  }

  /** The request body's reader wants more. */
  readBody(): void {
    this.resumeReading();
  }

  // ----- RequestEvents -----

  onHead(head: RequestHead): void {
    this.headStartedAt = 0;
    if (head.method === 'CONNECT') {
      this.phase = Phase.Closing;
      this.socket.destroy();
      return;
    }
    const upgrade = head.upgrade;
    const hasBody = !upgrade && (head.chunked || head.contentLength > 0);
    this.decoder.pause();
    this.phase = Phase.Active;
    // An Upgrade request keeps a Readable: a Content-Length on it makes a reader wait for an 'end' (its bytes are a tunnel, not read).
    const req = hasBody || upgrade ? new DownstreamRequest(this.socket, this, head.method, head.target, head.minor, head.raw()) : new BodylessRequest(this.socket, head.method, head.target, head.minor, head.raw());
    const res = new DownstreamResponse(this, this.socket, head.method === 'HEAD', head.minor, head.keepAlive && !upgrade && !this.peerEnded);
    this.req = req;
    this.res = res;
    this.resFinished = false;
    this.dumping = false;
    this.reqComplete = !hasBody;
    if (req instanceof DownstreamRequest && !hasBody) {
      req.complete = true;
      req.push(null);
    } else if (head.expectContinue && head.minor === 1) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    this.owner.handle(req, res);
  }

  onBody(): void {
    // Body bytes as received (framing included) and tunnel bytes: the payload arrives through onData.
  }

  /** A property, not a method: the decoder calls it unbound. */
  readonly onData = (payload: Buffer): void => {
    const req = this.req;
    if (!req || this.dumping || this.reqComplete || !(req instanceof DownstreamRequest)) return;
    // A body its reader gave up on (destroyed) is dropped, not waited for: nobody would resume the socket.
    if (req.destroyed) return;
    if (!req.push(payload)) this.pauseReading();
  };

  onMessageComplete(): void {
    if (this.reqComplete) return;
    this.reqComplete = true;
    const req = this.req;
    if (!(req instanceof DownstreamRequest)) return;
    req.complete = true;
    if (!this.dumping) req.push(null);
    if (this.resFinished) this.streamDone();
  }

  onError(err: Http1Error): void {
    if (this.phase === Phase.Active) {
      if (this.reqComplete) {
        // Bytes after a request that closes the connection: it closes after the answer anyway.
        if (this.res) this.res.closeAfter = true;
        return;
      }
      // A body whose framing broke: the request is aborted; the client gets the 400 unless its answer began.
      this.reqComplete = true;
      this.abortRequest();
      if (this.res && !this.res.headersSent) {
        this.res.destroyed = true;
        return this.reply(err.status, STATUS_CODES[err.status] ?? 'Bad Request');
      }
      this.socket.destroy();
      return;
    }
    this.reply(err.status, STATUS_CODES[err.status] ?? 'Bad Request');
  }

  // ----- endings -----

  /** The response's last bytes were handed to the socket. */
  readonly responseFlushed = (): void => {
    const res = this.res;
    if (!res || this.resFinished) return;
    this.resFinished = true;
    res.writableFinished = true;
    res.emit('finish');
    res.emit('close');
    if (this.phase !== Phase.Active) return;
    if (!this.reqComplete) {
      // Answered before the body was in: the rest is read and dropped (a half-sent body must not meet an RST).
      this.dumping = true;
      this.resumeReading();
      if (res.closeAfter || this.owner.draining) this.closeNow();
      return;
    }
    this.streamDone();
  };

  /** Request received and response sent: on to the next request, or close. */
  private streamDone(): void {
    const res = this.res;
    this.req = this.res = undefined;
    if (this.phase !== Phase.Active) return;
    if (!res || res.closeAfter || this.peerEnded || this.owner.draining) return this.closeNow();
    this.phase = Phase.Idle;
    this.lastActivity = now();
    this.decoder.resume();
    if (this.phase === Phase.Idle && this.decoder.held > 0 && this.headStartedAt === 0) this.headStartedAt = this.lastActivity;
    if (this.phase === Phase.Idle) this.resumeReading();
  }

  private abortRequest(): void {
    const req = this.req;
    if (!req || req.complete || req.destroyed) return;
    req.emit('aborted');
    if (req.listenerCount('error') > 0) req.destroy(abortedError());
    else req.destroy();
  }

  /** A reply of the connection itself (parse error, headers timeout), then close. */
  private reply(status: number, reason: string): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closing;
    this.touch();
    if (this.socket.writable) this.socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, 'latin1');
    else this.socket.destroy();
    this.resumeReading();
  }

  /** Our FIN after what was written; the peer's bytes are still read (and dropped) so it sees the answer, not an RST. */
  closeNow(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closing;
    this.touch();
    this.resumeReading();
    if (this.peerEnded && !this.socket.writable) this.socket.destroy();
    else this.socket.end();
  }
}
