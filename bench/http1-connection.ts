import net from 'node:net';

/** One request's outcome: the status (0 when the connection failed) and, on failure, why. */
export interface ExchangeResult {
  status: number;
  error?: string;
}

type Done = (result: ExchangeResult) => void;

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * A minimal keep-alive HTTP/1.1 client connection for the load generator: it writes a prebuilt
 * request and parses just enough of the response (status, Content-Length or chunked, Connection:
 * close) to know when it ended. Node's http client costs tens of µs per request and allocates a
 * lot; this keeps the generator's own cost and jitter far below the sidecar overhead it measures.
 * One request at a time (no pipelining), as a browser or a sidecar's upstream pool would.
 */
export class Http1Connection {
  private socket?: net.Socket;
  private connected = false;
  private buf: Buffer = Buffer.alloc(0);
  private done?: Done;
  private status = 0;
  /** Remaining body bytes (content-length), -1 when chunked, -2 when reading headers. */
  private remaining = -2;
  private chunked = false;
  private closeAfter = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  get busy(): boolean {
    return this.done !== undefined;
  }

  /** Sends `request` (a complete HTTP/1.1 request) and calls `done` once its response has fully arrived. */
  send(request: Buffer, done: Done): void {
    if (this.done) throw new Error('Http1Connection.send while a request is in flight (the generator must wait for a free connection)');
    this.done = done;
    this.status = 0;
    this.remaining = -2;
    this.chunked = false;
    this.closeAfter = false;
    this.timer = setTimeout(() => this.fail(`no complete response within ${this.timeoutMs} ms`), this.timeoutMs);
    if (!this.socket || this.socket.destroyed) this.open();
    if (this.connected) this.socket!.write(request);
    else this.socket!.once('connect', () => this.socket?.write(request));
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): void {
    this.connected = false;
    this.buf = Buffer.alloc(0);
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    // A replaced socket's late events must not touch the request now in flight on its successor.
    socket.on('connect', () => {
      if (this.socket === socket) this.connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.onData(chunk);
    });
    socket.on('error', (err) => {
      if (this.socket === socket) this.fail(err.message);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.fail('connection closed before the response ended');
    });
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.done) {
      this.buf = Buffer.alloc(0); // unsolicited bytes: ignore
      return;
    }
    if (this.remaining === -2) {
      const end = this.buf.indexOf(CRLF2);
      if (end < 0) return;
      this.parseHead(this.buf.toString('latin1', 0, end));
      this.buf = this.buf.subarray(end + 4);
      if ((this.remaining as number) === -3) return this.fail('response has neither Content-Length nor chunked encoding');
    }
    if (this.chunked) return this.readChunks();
    if (this.buf.length >= this.remaining) {
      this.buf = this.buf.subarray(this.remaining);
      this.finish();
    }
  }

  private parseHead(head: string): void {
    this.status = Number(head.slice(9, 12)) || 0;
    this.remaining = -3;
    let from = head.indexOf('\r\n') + 2;
    while (from > 1 && from < head.length) {
      let to = head.indexOf('\r\n', from);
      if (to < 0) to = head.length;
      const colon = head.indexOf(':', from);
      if (colon > from && colon < to) {
        const name = head.slice(from, colon).trim().toLowerCase();
        const value = head.slice(colon + 1, to).trim().toLowerCase();
        if (name === 'content-length') this.remaining = Number(value);
        else if (name === 'transfer-encoding' && value.includes('chunked')) {
          this.chunked = true;
          this.remaining = -1;
        } else if (name === 'connection' && value === 'close') this.closeAfter = true;
      }
      from = to + 2;
    }
    if (this.status === 204 || this.status === 304) this.remaining = 0;
  }

  /** Consumes complete chunks; finishes at the zero-size chunk and its trailer's blank line. */
  private readChunks(): void {
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const size = parseInt(this.buf.toString('latin1', 0, eol), 16);
      if (Number.isNaN(size)) return this.fail('malformed chunk size');
      if (size === 0) {
        const end = this.buf.indexOf(CRLF2, eol - 2 >= 0 ? eol - 2 : 0);
        if (end < 0) return;
        this.buf = this.buf.subarray(end + 4);
        return this.finish();
      }
      if (this.buf.length < eol + 2 + size + 2) return;
      this.buf = this.buf.subarray(eol + 2 + size + 2);
    }
  }

  private finish(): void {
    const done = this.done;
    clearTimeout(this.timer);
    this.done = undefined;
    if (this.closeAfter) this.close();
    done?.({ status: this.status });
  }

  private fail(error: string): void {
    const done = this.done;
    if (!done) return;
    clearTimeout(this.timer);
    this.done = undefined;
    this.close();
    done({ status: 0, error });
  }
}
