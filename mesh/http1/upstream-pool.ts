import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher, buildConnector } from 'undici';
import { ResponseDecoder } from './response-decoder';
import type { Http1Error, ResponseHead } from './head';

/**
 * The keep-alive connection pool of one upstream endpoint, on raw `net`/`tls` sockets and the
 * mesh/http1 response codec: a drop-in for the undici Pool it replaces (`dispatch(opts, handler)`
 * with undici's DispatchHandler contract, which forward.ts and the router already speak), so the
 * router's semantics stay where they are.
 *
 * Idle connections are reused LIFO (the most recently used socket is the warmest and the least
 * likely to have been closed by the server); `noDelay` on every socket; a request's head and a
 * buffered body go out in one corked write. A request sent on a reused connection that closes
 * before any response byte arrived is sent once more on a new connection when its body can be
 * replayed (a keep-alive race with the server's idle close, not an upstream failure); any other
 * failure is the router's to judge. `onRequestStart` is called once the socket is connected, as
 * undici does: an error before it is a connection failure (UF), after it a reset.
 */
export interface UpstreamPoolOptions {
  /** Connections to this endpoint at most (null: unlimited); more requests wait in FIFO order. */
  connections?: number | null;
  /** Requests per connection before it is closed (0: unlimited). */
  maxRequestsPerClient?: number;
  /** Idle keep-alive connections are closed after this (a shorter `Keep-Alive: timeout=` from the server wins). */
  keepAliveTimeout?: number;
  keepAliveMaxTimeout?: number;
  connectTimeout?: number;
  /** An undici-style connector (mTLS); plain TCP when absent. */
  connect?: buildConnector.connector;
}

type Body = Dispatcher.DispatchOptions['body'];
interface Job {
  method: string;
  path: string;
  headers: string[];
  body: Body;
  handler: Dispatcher.DispatchHandler;
  /** Sent once more after a stale keep-alive connection closed under it. */
  retried: boolean;
}

const LIMITS = { maxHeadBytes: 60 * 1024, maxHeaders: 100 };
/** undici's keepAliveTimeoutThreshold: a server's Keep-Alive hint is shortened by this, to close before the server does. */
const KEEP_ALIVE_THRESHOLD_MS = 2000;

function errorWith(message: string, code: string, name = 'Error'): Error {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  err.name = name;
  return err;
}

/** The request's one exchange on a connection: undici's DispatchController for its handler. */
class Exchange implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  done = false;
  responded = false;
  /** Its head went out: after that an abort costs the connection. */
  written = false;
  sentWhole = false;

  constructor(
    readonly job: Job,
    readonly conn: Connection,
  ) {}

  abort(reason: Error): void {
    if (this.done || this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.conn.abortExchange(this, reason);
  }
  /** Backpressure from the handler: holds the socket's reads, only while this is the connection's live exchange. */
  pause(): void {
    if (this.done) return;
    this.paused = true;
    this.conn.socket?.pause();
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.done) this.conn.socket?.resume();
  }
}

class Connection {
  socket?: net.Socket;
  exchange?: Exchange;
  served = 0;
  /** Bytes received for the current exchange (a stale-socket retry needs none). */
  received = 0;
  private idleTimer?: NodeJS.Timeout;
  private keepAliveMs: number;
  private readonly decoder: ResponseDecoder;

  constructor(private readonly pool: UpstreamPool) {
    this.keepAliveMs = pool.keepAliveMs;
    this.decoder = new ResponseDecoder(
      {
        onHead: (head) => this.onHead(head),
        onBody: () => {},
        onData: (payload) => this.onData(payload),
        onMessageComplete: (head, keepAlive) => this.onComplete(head, keepAlive),
        onError: (err) => this.fail(Object.assign(errorWith(err.message, `HPE_${err.details}`, 'HTTPParserError'), { status: (err as Http1Error).status })),
      },
      LIMITS,
    );
  }

  get reused(): boolean {
    return this.served > 0;
  }

  /** Opens the socket; `first` is sent once connected, or fails as a connection failure. */
  open(first: Job): void {
    const { host, port } = this.pool;
    const connected = (socket: net.Socket): void => {
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        this.received += chunk.length;
        if (!this.exchange) {
          // Bytes nobody asked for: the connection cannot be trusted any more.
          socket.destroy();
          return;
        }
        this.decoder.push(chunk);
      });
      socket.on('end', () => this.onEnd());
      socket.on('close', () => this.onClose());
      this.send(first);
    };
    const failed = (err: Error): void => {
      this.pool.forget(this);
      first.handler.onResponseError?.(undefined as unknown as Dispatcher.DispatchController, err);
      this.pool.next();
    };
    const connector = this.pool.options.connect;
    if (connector) {
      connector({ hostname: host, host: `${host}:${port}`, protocol: 'http:', port: String(port), servername: undefined, localAddress: null, httpSocket: undefined } as buildConnector.Options, (err, socket) => {
        if (err || !socket) failed(err ?? errorWith('connect failed', 'ECONNREFUSED'));
        else connected(socket as net.Socket);
      });
      return;
    }
    const socket = net.connect({ host, port, noDelay: true });
    const timeoutMs = this.pool.options.connectTimeout ?? 10_000;
    const timer = setTimeout(() => socket.destroy(errorWith(`Connect Timeout Error (attempted address: ${host}:${port}, timeout: ${timeoutMs}ms)`, 'UND_ERR_CONNECT_TIMEOUT', 'ConnectTimeoutError')), timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      failed(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.on('error', () => {}); // 'close' reports it
      connected(socket);
    });
  }

  /** Writes `job` on this (connected, free) connection. */
  send(job: Job): void {
    clearTimeout(this.idleTimer);
    const socket = this.socket!;
    const ex = new Exchange(job, this);
    this.exchange = ex;
    this.received = 0;
    this.decoder.expect(job.method);
    job.handler.onRequestStart?.(ex, {});
    if (ex.aborted) return;
    ex.written = true;
    let head = `${job.method} ${job.path} HTTP/1.1\r\n`;
    let hasHost = false;
    let hasLength = false;
    const h = job.headers;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i];
      if (name.length === 4 && name.toLowerCase() === 'host') hasHost = true;
      else if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      head += `${name}: ${h[i + 1]}\r\n`;
    }
    if (!hasHost) head += `host: ${this.pool.host}:${this.pool.port}\r\n`;
    // The connection's last request (maxRequestsPerConnection) says so, as undici does: the server closes after it.
    if (this.pool.maxRequests && this.served + 1 >= this.pool.maxRequests) head += 'connection: close\r\n';
    const body = job.body;
    if (body === null || body === undefined) {
      if (!hasLength && (job.method === 'POST' || job.method === 'PUT' || job.method === 'PATCH')) head += 'content-length: 0\r\n';
      socket.write(`${head}\r\n`, 'latin1');
      ex.sentWhole = true;
      return;
    }
    if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : (body as Buffer);
      if (!hasLength) head += `content-length: ${bytes.length}\r\n`;
      socket.cork();
      socket.write(`${head}\r\n`, 'latin1');
      socket.write(bytes);
      socket.uncork();
      ex.sentWhole = true;
      return;
    }
    this.stream(ex, socket, body as Readable, head, hasLength);
  }

  /** A streamed body: as it comes (Content-Length given) or chunked, with the socket's backpressure. */
  private stream(ex: Exchange, socket: net.Socket, source: Readable, head: string, hasLength: boolean): void {
    const chunked = !hasLength;
    socket.write(`${head}${chunked ? 'transfer-encoding: chunked\r\n' : ''}\r\n`, 'latin1');
    const resume = (): void => void source.resume();
    const onData = (chunk: Buffer): void => {
      if (ex.done || ex.aborted || socket.destroyed) return;
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) {
        source.pause();
        socket.once('drain', resume);
      }
    };
    const cleanup = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      socket.off('drain', resume);
    };
    const onEnd = (): void => {
      cleanup();
      if (ex.done || ex.aborted || socket.destroyed) return;
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      ex.sentWhole = true;
    };
    const onError = (err: Error): void => {
      cleanup();
      if (!ex.done && !ex.aborted) this.fail(err);
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    if (source.isPaused()) source.resume();
  }

  private onHead(head: ResponseHead): void {
    // The rest of a packet after the exchange was aborted (a discarded response) goes nowhere.
    const ex = this.exchange;
    if (!ex) return;
    ex.responded = true;
    const headers: IncomingHttpHeaders = {};
    const out = headers as Record<string, string | string[]>;
    for (let i = 0; i < head.count; i++) {
      const name = head.name(i).toLowerCase();
      const value = head.value(i);
      const prev = out[name];
      if (prev === undefined) out[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else out[name] = [prev, value];
      if (name === 'keep-alive') this.keepAliveHint(value);
    }
    ex.job.handler.onResponseStart?.(ex, head.status, headers, head.reason);
  }

  /** `Keep-Alive: timeout=N`: close before the server does (undici's rule). */
  private keepAliveHint(value: string): void {
    const m = /timeout=(\d+)/i.exec(value);
    if (!m) return;
    const ms = Number(m[1]) * 1000 - KEEP_ALIVE_THRESHOLD_MS;
    this.keepAliveMs = Math.min(this.pool.keepAliveMs, Math.max(ms, 0));
  }

  private onData(payload: Buffer): void {
    const ex = this.exchange;
    if (!ex || ex.aborted) return;
    // The decoder's view may point into a buffer it reuses for a split head: the handler gets bytes it may keep.
    ex.job.handler.onResponseData?.(ex, payload);
  }

  private onComplete(_head: ResponseHead, keepAlive: boolean): void {
    const ex = this.exchange;
    if (!ex) return;
    ex.done = true;
    this.exchange = undefined;
    this.served++;
    // The last bytes came in the same read as a pause (a handler whose downstream was full): the exchange is over,
    // so is its pause. A connection released paused never reads its next response (the hang 05a1205 reported, with a
    // >16 KiB response through Node's ServerResponse, whose 'drain' never comes once the response has ended).
    if (ex.paused) {
      ex.paused = false;
      this.socket?.resume();
    }
    const reusable = keepAlive && ex.sentWhole && this.keepAliveMs > 0 && !this.pool.closed && (!this.pool.maxRequests || this.served < this.pool.maxRequests);
    if (!reusable) this.socket?.destroy();
    ex.job.handler.onResponseEnd?.(ex, {});
    if (reusable && this.socket && !this.socket.destroyed) this.pool.release(this);
  }

  private onEnd(): void {
    // A close-delimited body ends here; anything else cut short is reported by 'close'.
    if (this.exchange) this.decoder.end();
  }

  private onClose(): void {
    clearTimeout(this.idleTimer);
    this.pool.forget(this);
    const ex = this.exchange;
    if (ex && !ex.done) {
      this.exchange = undefined;
      if (!ex.aborted) {
        // A stale keep-alive connection: the server closed it as we wrote. Nothing came back; send it once more.
        const replayable = ex.job.body === null || ex.job.body === undefined || Buffer.isBuffer(ex.job.body) || typeof ex.job.body === 'string';
        if (this.reused && this.received === 0 && !ex.job.retried && replayable) {
          ex.job.retried = true;
          this.pool.enqueueFront(ex.job);
        } else {
          ex.done = true;
          ex.job.handler.onResponseError?.(ex, errorWith('other side closed', 'UND_ERR_SOCKET', 'SocketError'));
        }
      }
    }
    this.pool.next();
  }

  /** The exchange failed (parse error, body stream error): the connection goes with it. */
  private fail(err: Error): void {
    const ex = this.exchange;
    if (ex && !ex.done) {
      ex.done = true;
      this.exchange = undefined;
      ex.job.handler.onResponseError?.(ex, err);
    }
    this.socket?.destroy();
  }

  abortExchange(ex: Exchange, reason: Error): void {
    if (this.exchange !== ex) return;
    ex.done = true;
    this.exchange = undefined;
    // Aborted before anything was written (its caller gave up while it waited in the queue): the connection is clean.
    if (!ex.written && this.socket && !this.socket.destroyed) this.pool.release(this);
    else this.socket?.destroy();
    ex.job.handler.onResponseError?.(ex, reason);
  }

  idle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.socket?.destroy(), this.keepAliveMs);
    this.idleTimer.unref();
  }

  destroy(): void {
    clearTimeout(this.idleTimer);
    this.socket?.destroy();
  }
}

export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  readonly keepAliveMs: number;
  readonly maxRequests: number;
  private readonly max: number;
  /** Idle connections, most recently used last (LIFO). */
  private readonly idleStack: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Job[] = [];
  closed = false;
  private onDrained?: () => void;

  constructor(
    origin: string,
    readonly options: UpstreamPoolOptions = {},
  ) {
    const url = new URL(origin);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.keepAliveMs = Math.min(options.keepAliveTimeout ?? 60_000, options.keepAliveMaxTimeout ?? Infinity);
    this.maxRequests = options.maxRequestsPerClient ?? 0;
    this.max = options.connections ?? Infinity;
  }

  /** Connections open (idle or busy) and requests waiting: for tests and admin. */
  get stats(): { connected: number; idle: number; queued: number } {
    return { connected: this.all.size, idle: this.idleStack.length, queued: this.queue.length };
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closed) throw errorWith('The client is destroyed', 'UND_ERR_DESTROYED', 'ClientDestroyedError');
    const headers = (opts.headers ?? []) as string[];
    this.queue.push({ method: opts.method, path: opts.path, headers, body: opts.body ?? null, handler, retried: false });
    this.next();
    return true;
  }

  /** Starts waiting requests on idle connections (LIFO), or on new ones while under the limit. */
  next(): void {
    while (this.queue.length > 0) {
      const conn = this.idleStack.pop();
      if (conn) {
        conn.send(this.queue.shift()!);
        continue;
      }
      if (this.all.size >= this.max) return;
      const fresh = new Connection(this);
      this.all.add(fresh);
      fresh.open(this.queue.shift()!);
    }
    if (this.closed) this.checkDrained();
  }

  enqueueFront(job: Job): void {
    this.queue.unshift(job);
  }

  release(conn: Connection): void {
    if (this.queue.length > 0) {
      conn.send(this.queue.shift()!);
      return;
    }
    conn.idle();
    this.idleStack.push(conn);
  }

  forget(conn: Connection): void {
    this.all.delete(conn);
    const k = this.idleStack.indexOf(conn);
    if (k !== -1) this.idleStack.splice(k, 1);
    if (this.closed) this.checkDrained();
  }

  /** Closes idle connections now and the others once their requests (and those waiting) finish. */
  close(): Promise<void> {
    this.closed = true;
    for (const conn of this.idleStack.splice(0)) conn.destroy();
    return new Promise((resolve) => {
      this.onDrained = resolve;
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    for (const conn of this.idleStack.splice(0)) conn.destroy();
    if (this.all.size === 0 && this.queue.length === 0 && this.onDrained) {
      const done = this.onDrained;
      this.onDrained = undefined;
      done();
    }
  }
}
