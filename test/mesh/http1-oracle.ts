/**
 * The two parsers under comparison, reduced to one outcome shape: Node's own (llhttp behind a real
 * http.Server on a real socket) and meshlab's RequestDecoder. An outcome is the list of complete
 * requests (head, body payload, trailers; an Upgrade/CONNECT head counts as complete) and how the
 * byte stream ended: clean between requests, incomplete (cut short), or an error.
 */
import http from 'node:http';
import net from 'node:net';
import { RequestDecoder } from '../../mesh/http1/request-decoder';
import type { HeadLimits } from '../../mesh/http1/head';

export interface Message {
  method: string;
  url: string;
  version: string;
  headers: string[];
  body: string;
  trailers: string[];
  upgrade: boolean;
}

export interface Outcome {
  messages: Message[];
  end: 'clean' | 'incomplete' | 'error';
  /** Why, when end is 'error' (llhttp's code or meshlab's details): for the failure message only. */
  why?: string;
}

export const LIMITS: HeadLimits = { maxHeadBytes: 60 * 1024, maxHeaders: 100 };

/**
 * Rules meshlab applies on purpose (breaksMeshRules) that Node applies outside llhttp or not at all, applied to Node's
 * outcome so the comparison is like for like: an HTTP/1.1 request without Host is refused (Node's
 * http.Server does it itself, after llhttp: requireHostHeader), and only HTTP/1.0 and 1.1 are
 * accepted (llhttp also takes 0.9 and 2.0; Envoy does not).
 */
const breaksMeshRules = (m: Message): boolean => (m.version !== '1.0' && m.version !== '1.1') || (m.version === '1.1' && !hasHost(m.headers)) || emptyTransferEncoding(m.headers);

/**
 * A Transfer-Encoding line with an empty value names no coding, so chunked is not last: 400 (RFC 9112 §6.3). Node 24's
 * llhttp refuses it itself (HPE_INVALID_TRANSFER_ENCODING), also beside a later chunked line and on CONNECT; Node 20's
 * delivered it as if absent, so the rule is applied to its outcome too.
 */
const emptyTransferEncoding = (raw: string[]): boolean => raw.some((v, i) => i % 2 === 1 && raw[i - 1].toLowerCase() === 'transfer-encoding' && v.trim() === '');

const done = (ms: (Message & { done: boolean; aborted: boolean })[]): Message[] => ms.filter((m) => m.done).map(({ done: _d, aborted: _a, ...m }) => m);

const hasHost = (raw: string[]): boolean => raw.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'host');

/** Node's http.Server as the oracle; each case runs on its own connection. */
export class NodeOracle {
  private readonly server: http.Server;
  private readonly waiting = new Map<number, (o: Outcome) => void>();
  private readonly live = new Map<net.Socket, { messages: (Message & { done: boolean; aborted: boolean })[]; error?: string }>();

  constructor() {
    this.server = http.createServer({ maxHeaderSize: LIMITS.maxHeadBytes, requireHostHeader: false });
    this.server.maxHeadersCount = 0;
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const rec = this.record(req, false);
      if (!rec) return;
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        rec.body = Buffer.concat(chunks).toString('latin1');
        rec.trailers = req.rawTrailers;
        rec.done = true;
        // A length keeps an HTTP/1.0 keep-alive connection open, so Node goes on parsing what follows.
        res.writeHead(200, { 'content-length': 0 }).end();
      });
      req.on('aborted', () => (rec.aborted = true));
      req.on('error', () => (rec.aborted = true));
    };
    this.server.on('request', onRequest);
    this.server.on('checkExpectation', onRequest);
    const onTunnel = (req: http.IncomingMessage, socket: net.Socket): void => {
      const rec = this.record(req, true);
      if (rec) rec.done = true;
      socket.destroy();
    };
    this.server.on('upgrade', onTunnel);
    this.server.on('connect', onTunnel);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const state = this.live.get(socket);
      if (state && state.error === undefined) state.error = err.code ?? 'error';
      socket.destroy();
    });
    this.server.on('connection', (socket: net.Socket) => {
      const state = { messages: [] as (Message & { done: boolean; aborted: boolean })[], error: undefined as string | undefined };
      this.live.set(socket, state);
      const port = socket.remotePort ?? 0;
      socket.on('close', () => {
        this.live.delete(socket);
        const resolve = this.waiting.get(port);
        this.waiting.delete(port);
        resolve?.(this.outcome(state));
      });
    });
  }

  private record(req: http.IncomingMessage, upgrade: boolean): (Message & { done: boolean; aborted: boolean }) | undefined {
    const state = this.live.get(req.socket);
    if (!state) return undefined;
    const m = { method: req.method ?? '', url: req.url ?? '', version: req.httpVersion, headers: req.rawHeaders, body: '', trailers: [] as string[], upgrade, done: false, aborted: false };
    state.messages.push(m);
    return m;
  }

  private outcome(state: { messages: (Message & { done: boolean; aborted: boolean })[]; error?: string }): Outcome {
    // meshlab's own rules judge every head Node delivered, complete or not.
    const k = state.messages.findIndex(breaksMeshRules);
    if (k !== -1) return { messages: done(state.messages.slice(0, k)), end: 'error', why: 'meshlab rule (version / Host / empty Transfer-Encoding)' };
    const cut = state.messages.some((m) => !m.done);
    let end: Outcome['end'] = 'clean';
    if (state.error !== undefined) end = state.error === 'HPE_INVALID_EOF_STATE' ? 'incomplete' : 'error';
    else if (cut) end = 'incomplete';
    return { messages: done(state.messages), end, why: state.error };
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Sends `input` on a fresh connection, half-closes, and resolves with what Node made of it once the server side closed. */
  parse(input: Buffer): Promise<Outcome> {
    const port = (this.server.address() as net.AddressInfo).port;
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.on('error', () => {});
      sock.resume();
      sock.once('connect', () => {
        this.waiting.set(sock.localPort ?? 0, resolve);
        sock.end(input);
      });
      sock.once('close', () => {
        // The server side reports through `waiting`; this only catches a connection that never opened.
        if (!sock.localPort) reject(new Error('oracle connection failed'));
      });
    });
  }
}

/** meshlab's decoder on the same bytes, delivered in the given pieces (an incremental parser must not care). */
export function meshParse(input: Buffer, cuts: number[]): Outcome {
  const messages: Message[] = [];
  let error: string | undefined;
  let body: Buffer[] = [];
  const decoder = new RequestDecoder(
    {
      onHead: (head) => {
        body = [];
        if (head.upgrade) messages.push({ method: head.method, url: head.target, version: `1.${head.minor}`, headers: head.raw(), body: '', trailers: [], upgrade: true });
      },
      onBody: () => {},
      onData: (payload) => body.push(Buffer.from(payload)),
      onMessageComplete: (head) => {
        const trailers = decoder.trailers?.raw() ?? [];
        messages.push({ method: head.method, url: head.target, version: `1.${head.minor}`, headers: head.raw(), body: Buffer.concat(body).toString('latin1'), trailers, upgrade: false });
      },
      onError: (err) => (error = err.details),
    },
    LIMITS,
  );
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    if (cut <= from) continue;
    decoder.push(input.subarray(from, cut));
    from = cut;
    if (error !== undefined) break;
  }
  if (error !== undefined) return { messages, end: 'error', why: error };
  if (messages.length > 0 && messages[messages.length - 1].upgrade) return { messages, end: 'clean' };
  const end = decoder.end();
  if (typeof end !== 'string') return { messages, end: 'error', why: end.details };
  return { messages, end };
}
