import http from 'node:http';
import net, { type Socket } from 'node:net';
import type { MtlsServer } from './security/mtls';
import { Http1Server, type Http1Handler } from './http1/server';

/** Limits that keep a sidecar standing whatever a client sends (Envoy's defaults where it has one). */
export const LISTENER_LIMITS = {
  /** Envoy's max_request_headers_kb default: 60 KiB; larger → 431. */
  maxHeaderSize: 60 * 1024,
  /** Slowloris guard: the whole header block must arrive within this. */
  headersTimeoutMs: 10_000,
  /** Idle keep-alive connections are closed after this. */
  keepAliveTimeoutMs: 60_000,
  /** Envoy's max_headers_count default (the connection manager answers 431 above it). */
  maxHeadersCount: 100,
  /** Envoy's stream idle timeout: a connection silent this long mid-request is closed. */
  idleTimeoutMs: 300_000,
  /** How often Node checks the headers timeout (its default, 30 s, would let slowloris hold sockets far longer). */
  checkIntervalMs: 1000,
};

export interface Listener {
  /** Takes accepted sockets by `emit('connection', socket)` (the mTLS sniffer hands them over this way). */
  server: net.Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  drain(graceMs: number, inFlight: () => number): Promise<void>;
}

/** The HTTP/1.1 server every listener uses, with the limits above; not bound to a port. */
export function limitedServer(handler: http.RequestListener): http.Server {
  const server = http.createServer(
    {
      maxHeaderSize: LISTENER_LIMITS.maxHeaderSize,
      headersTimeout: LISTENER_LIMITS.headersTimeoutMs,
      requestTimeout: 0,
      keepAliveTimeout: LISTENER_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: LISTENER_LIMITS.checkIntervalMs,
      noDelay: true,
    },
    handler,
  );
  // One more than the limit, so the connection manager can see "too many" and answer 431 (Node would silently drop the rest).
  server.maxHeadersCount = LISTENER_LIMITS.maxHeadersCount + 1;
  server.timeout = LISTENER_LIMITS.idleTimeoutMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return server;
}

/**
 * The downstream HTTP/1.1 path: our own codec on raw sockets (mesh/http1/server.ts), or Node's http.Server with
 * MESH_DOWNSTREAM=node, kept only for the bench's A/B of the two (#15).
 */
const NODE_DOWNSTREAM = process.env.MESH_DOWNSTREAM === 'node';

/** What drain needs from either server. */
interface Downstream {
  server: net.Server;
  draining(): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

function downstream(handler: http.RequestListener): Downstream {
  if (NODE_DOWNSTREAM) {
    const server = limitedServer(handler);
    return { server, draining: () => undefined, closeIdleConnections: () => server.closeIdleConnections(), closeAllConnections: () => server.closeAllConnections() };
  }
  // The request and response objects carry the part of IncomingMessage/ServerResponse the connection manager uses.
  const h1 = new Http1Server(LISTENER_LIMITS, handler as unknown as Http1Handler);
  return {
    server: h1.server,
    draining: () => {
      h1.draining = true;
    },
    closeIdleConnections: () => h1.closeIdleConnections(),
    closeAllConnections: () => h1.closeAllConnections(),
  };
}

async function drainDownstream(d: Downstream, graceMs: number, inFlight: () => number): Promise<void> {
  d.draining();
  d.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  d.closeAllConnections();
}

/** An HTTP/1.1 listener on `host:port` (0 = ephemeral) feeding `handler`. */
export async function listen(name: string, host: string, port: number, handler: http.RequestListener): Promise<Listener> {
  const d = downstream(handler);
  const server = d.server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`${name} listener could not bind ${host}:${port}: ${err.message}`)));
    server.listen(port, host, resolve);
  });
  const bound = (server.address() as { port: number }).port;
  return {
    server,
    port: bound,
    drain: async (graceMs, inFlight) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await drainDownstream(d, graceMs, inFlight);
      await closed;
    },
  };
}

/**
 * The inbound listener peers call. It binds its port at once (the port is announced to the control plane before the
 * workload certificate exists, since the CA only signs for registered nodes), and hands every accepted socket to an
 * MtlsServer once `secure()` installed one (PeerAuthentication decides plaintext/mTLS there), or straight to the HTTP
 * server when the sidecar runs without mTLS. With `requireSecure`, connections arriving before `secure()` are dropped:
 * the endpoint is not ready yet, so no mesh peer sends any.
 */
export interface InboundListener extends Listener {
  /** Installs the sniffing mTLS front; its handler must be `server` (see inboundHttpServer). */
  secure(mtls: MtlsServer): void;
  readonly mtls?: MtlsServer;
}

export async function listenInbound(name: string, host: string, port: number, handler: http.RequestListener, opts: { requireSecure: boolean }): Promise<InboundListener> {
  const d = downstream(handler);
  const server = d.server;
  // Sockets reach `server` by emit('connection'), never by listen(): Node's http.Server starts its connection tracking
  // (headers and idle timeouts) on 'listening', so it is emitted by hand, as listen() would.
  if (NODE_DOWNSTREAM) server.emit('listening');
  let mtls: MtlsServer | undefined;
  const raw = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    if (mtls) mtls.server.emit('connection', socket);
    else if (opts.requireSecure) socket.destroy();
    else server.emit('connection', socket);
  });
  await new Promise<void>((resolve, reject) => {
    raw.once('error', (err) => reject(new Error(`${name} listener could not bind ${host}:${port}: ${err.message}`)));
    raw.listen(port, host, resolve);
  });
  return {
    server,
    port: (raw.address() as net.AddressInfo).port,
    get mtls() {
      return mtls;
    },
    secure(m: MtlsServer) {
      mtls = m;
    },
    drain: async (graceMs, inFlight) => {
      const closed = new Promise<void>((resolve) => raw.close(() => resolve()));
      if (NODE_DOWNSTREAM) server.close();
      await drainDownstream(d, graceMs, inFlight);
      await mtls?.close();
      await closed;
    },
  };
}
