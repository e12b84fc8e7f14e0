import http from 'node:http';
import net, { type Socket } from 'node:net';
import type { MtlsServer } from './security/mtls';

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
  server: http.Server;
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

/** An HTTP/1.1 listener on `host:port` (0 = ephemeral) feeding `handler`. */
export async function listen(name: string, host: string, port: number, handler: http.RequestListener): Promise<Listener> {
  const server = limitedServer(handler);
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
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
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
  const server = limitedServer(handler);
  // Sockets reach `server` by emit('connection'), never by listen(): start its connection tracking (headers and
  // idle timeouts) by hand, as listen() would.
  server.emit('listening');
  let mtls: MtlsServer | undefined;
  const raw = net.createServer({ noDelay: true }, (socket) => {
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
      server.close();
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await mtls?.close();
      await closed;
    },
  };
}
