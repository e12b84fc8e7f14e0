import net from 'node:net';
import { Deadlines } from './deadlines';
import { ServerConnection, type ConnectionOwner, type DownstreamResponse, type ServerRequest, type ServerLimits } from './server-connection';

/** Every downstream connection of the process, on one sweep (its interval: the latest server's checkIntervalMs). */
let intervalMs = 1000;
const deadlines = new Deadlines(() => intervalMs);

export type Http1Handler = (req: ServerRequest, res: DownstreamResponse) => void;

/**
 * The downstream HTTP/1.1 server of a listener on raw sockets: accepts connections (from its own
 * `net.Server`, or handed over with `server.emit('connection', socket)` by the mTLS sniffer),
 * runs a ServerConnection on each, and drains: `closeIdleConnections()` closes the connections
 * between requests, `draining` makes every later response carry `connection: close`.
 */
export class Http1Server implements ConnectionOwner {
  /** Never listens by itself unless asked: `listen()` on it, or `emit('connection', socket)`. */
  readonly server: net.Server;
  draining = false;
  private readonly connections = new Set<ServerConnection>();

  constructor(
    readonly limits: ServerLimits,
    private readonly handler: Http1Handler,
  ) {
    intervalMs = limits.checkIntervalMs;
    // allowHalfOpen: a client may send its request and its FIN at once and still read the answer.
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  accept(socket: net.Socket): void {
    if (socket.destroyed) return;
    const conn = new ServerConnection(socket, this);
    this.connections.add(conn);
    deadlines.add(conn);
  }

  handle(req: ServerRequest, res: DownstreamResponse): void {
    this.handler(req, res);
  }

  closed(conn: ServerConnection): void {
    this.connections.delete(conn);
    deadlines.delete(conn);
  }

  closeIdleConnections(): void {
    for (const c of this.connections) if (c.idle) c.destroy();
  }

  closeAllConnections(): void {
    for (const c of this.connections) c.destroy();
  }
}
