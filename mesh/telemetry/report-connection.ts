import net from 'node:net';

/**
 * The exporter's one keep-alive HTTP/1.1 connection to its collector, without Node's HTTP client: a report is the
 * request head and the body handed to the kernel in one writev (cork/uncork, the body not copied), and the answer is
 * read just far enough to know its status and where it ends (Content-Length, or the connection's close). Per report
 * that skips ClientRequest, the agent's socket bookkeeping, the llhttp parser and IncomingMessage's stream — the same
 * wire bytes Envoy's Zipkin tracer sends (`POST /api/v2/spans`, `Content-Type: application/json`). One request at a time.
 *
 * A report is over when its answer came *and* its body was written (or its socket is gone): only then may the caller
 * reuse the body's bytes. A reused connection the collector closed while idle (a keep-alive race) is retried once on a
 * new one, before any answer byte arrived — as the body is still the caller's, nothing is lost or sent twice.
 */

export interface ReportAnswer {
  status: number;
  /** The answer's first bytes (for an error message). */
  body: string;
}

const CRLF2 = Buffer.from('\r\n\r\n');

export class ReportConnection {
  private socket?: net.Socket;
  private readonly head: string;
  private readonly host: string;
  private readonly port: number;

  constructor(url: string, contentType: string) {
    const u = new URL(url);
    if (u.protocol !== 'http:') throw new Error(`${url}: only http:// collectors are supported`);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || 80);
    this.head = `POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${contentType}\r\nContent-Length: `;
  }

  /** Sends one report; resolves with the answer, rejects on a connection error or after `timeoutMs` without the answer. */
  send(body: Uint8Array, timeoutMs: number): Promise<ReportAnswer> {
    return new Promise<ReportAnswer>((resolve, reject) => this.attempt(body, timeoutMs, true, resolve, reject));
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): net.Socket {
    const s = net.connect({ host: this.host, port: this.port, noDelay: true });
    s.on('error', () => undefined); // reported by the report in progress (its own listener), else the socket is dropped
    const drop = (): void => {
      if (this.socket === s) this.socket = undefined;
    };
    s.on('close', drop);
    s.on('end', () => {
      drop();
      s.destroy();
    });
    this.socket = s;
    return s;
  }

  private attempt(body: Uint8Array, timeoutMs: number, mayRetry: boolean, resolve: (a: ReportAnswer) => void, reject: (e: Error) => void): void {
    const kept = this.socket !== undefined && !this.socket.destroyed;
    const s = kept ? this.socket! : this.connect();
    // Only a kept connection's failure before any answer byte is retried (the collector may have closed it while idle).
    const retry = mayRetry && kept;
    let head: Buffer | undefined; // the answer's bytes until its head is complete
    let status = 0;
    let remaining = -1; // body bytes still to come; -1: until the connection closes
    let text = '';
    let gotBytes = false;
    let answered = false;
    let written = false;
    let done = false;
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      s.setTimeout(0);
      s.off('data', onData);
      s.off('error', onError);
      s.off('close', onClose);
      s.off('timeout', onTimeout);
      if (err) {
        s.destroy();
        if (retry && !gotBytes) {
          // The idle connection was closed under us: once more on a new one (the body is still ours).
          this.attempt(body, timeoutMs, false, resolve, reject);
          return;
        }
        reject(err);
      } else {
        if (remaining === -1 || this.socket !== s) s.destroy(); // an answer without a length ends with its connection
        resolve({ status, body: text });
      }
    };
    const complete = (): void => {
      if (answered && written) finish(undefined);
    };
    const onBody = (chunk: Buffer): void => {
      if (text.length < 200) text += chunk.toString('utf8', 0, Math.min(chunk.length, 200));
      if (remaining >= 0) {
        remaining -= chunk.length;
        if (remaining <= 0) {
          answered = true;
          complete();
        }
      }
    };
    const onData = (chunk: Buffer): void => {
      gotBytes = true;
      if (answered) return;
      if (status !== 0) return onBody(chunk);
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf(CRLF2);
      if (end < 0) {
        if (head.length > 16 * 1024) finish(new Error('answer head over 16 KiB'));
        return;
      }
      const lines = head.toString('latin1', 0, end).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
      if (!m) return finish(new Error(`not an HTTP answer: ${JSON.stringify(lines[0].slice(0, 80))}`));
      status = Number(m[1]);
      let close = false;
      let chunked = false;
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        const name = lines[i].slice(0, colon).trim().toLowerCase();
        const value = lines[i].slice(colon + 1).trim().toLowerCase();
        if (name === 'content-length') remaining = Number(value);
        else if (name === 'transfer-encoding') chunked = value !== 'identity';
        else if (name === 'connection') close = value.includes('close');
      }
      if (status < 200) {
        // 1xx (100 Continue): an interim answer, the real one follows.
        const rest = head.subarray(end + 4);
        head = undefined;
        status = 0;
        remaining = -1;
        if (rest.length > 0) onData(rest);
        return;
      }
      if (chunked || close) remaining = -1; // not read to its end: the connection is closed once answered
      const rest = head.subarray(end + 4);
      head = undefined;
      if (remaining === -1 && (chunked || close)) {
        if (rest.length > 0) onBody(rest);
        answered = true;
        if (this.socket === s) this.socket = undefined;
        return complete();
      }
      if (remaining === -1) {
        // No length, not chunked: the body runs to the connection's close.
        if (this.socket === s) this.socket = undefined;
        if (rest.length > 0) onBody(rest);
        return;
      }
      if (remaining === 0) {
        answered = true;
        if (rest.length > 0) text = rest.toString('utf8', 0, 200);
        return complete();
      }
      if (rest.length > 0) onBody(rest);
    };
    const onError = (e: Error): void => finish(e);
    const onClose = (): void => {
      if (answered || (status !== 0 && remaining === -1)) {
        answered = true;
        written = true; // the socket is gone: nothing of the body is still being written
        return complete();
      }
      finish(new Error(gotBytes ? 'connection closed during the answer' : 'connection closed without an answer'));
    };
    const onTimeout = (): void => finish(new Error(`no answer within ${timeoutMs} ms`));
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
    s.on('timeout', onTimeout);
    s.setTimeout(timeoutMs);
    s.cork();
    s.write(`${this.head}${body.length}\r\n\r\n`, 'latin1');
    s.write(body, () => {
      written = true;
      complete();
    });
    s.uncork();
  }
}
