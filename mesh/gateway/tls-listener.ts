/**
 * The gateway's HTTPS listener: TLS terminated here, then the same HTTP/1.1 server as every listener. The
 * certificate is chosen by SNI among the port's HTTPS servers as Envoy's filter chain match does it: a
 * server whose hosts cover the SNI name; a server with host `*` also takes connections without SNI (a client
 * dialing 127.0.0.1 sends none). No matching server: the handshake is refused. MUTUAL: the client's
 * certificate must verify against the credential's CA, else the connection is closed before any request.
 */
import tls from 'node:tls';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { limitedServer, type Listener } from '../listener';
import type { GatewayServer } from './compile';
import { hostCovers } from './compile';
import { loadCredential, type TlsCredential } from './credentials';

const NO_SERVER = 'no gateway server for SNI';

interface ServerContext {
  server: GatewayServer;
  context: tls.SecureContext;
  mutual: boolean;
}

export class GatewayTlsListener implements Listener {
  readonly server: http.Server;
  port = 0;
  private readonly tlsServer: tls.Server;
  private contexts: ServerContext[] = [];
  private readonly live = new Set<tls.TLSSocket>();
  /** Connections refused: no server for the SNI name, or MUTUAL without a valid client certificate. */
  readonly refused = { sni: 0, clientCert: 0 };

  constructor(handler: http.RequestListener) {
    this.server = limitedServer(handler);
    this.server.emit('listening');
    this.tlsServer = tls.createServer({
      requestCert: true,
      rejectUnauthorized: false,
      SNICallback: (name, cb) => {
        const c = this.match(name);
        if (!c) return cb(new Error(`${NO_SERVER} ${name}`));
        cb(null, c.context);
      },
    });
    this.tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
      const name = (socket as tls.TLSSocket & { servername?: string | false }).servername;
      const c = this.match(typeof name === 'string' ? name : undefined);
      if (!c) {
        this.refused.sni++;
        return socket.destroy();
      }
      if (c.mutual && !socket.authorized) {
        this.refused.clientCert++;
        return socket.destroy();
      }
      this.live.add(socket);
      socket.once('close', () => this.live.delete(socket));
      this.server.emit('connection', socket);
    });
    // A handshake refused for want of a server: an SNI name none has (SNICallback's error), or no SNI while no
    // `*` server exists (no certificate to offer: OpenSSL finds no signature algorithm / shared cipher).
    this.tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      if (err.message.startsWith(NO_SERVER) || err.code === 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM' || err.code === 'ERR_SSL_NO_SHARED_CIPHER') this.refused.sni++;
    });
  }

  /** The server for an SNI name (undefined: none sent). */
  private match(name: string | undefined): ServerContext | undefined {
    const n = name?.toLowerCase();
    // Exact names first, then wildcards, then `*` (Envoy: the most specific server_names match).
    const exact = n ? this.contexts.find((c) => c.server.hosts.includes(n)) : undefined;
    if (exact) return exact;
    const wild = n ? this.contexts.find((c) => c.server.hosts.some((h) => h.startsWith('*.') && hostCovers(h, n))) : undefined;
    return wild ?? this.contexts.find((c) => c.server.hosts.includes('*'));
  }

  /** Installs the HTTPS servers of this port (throws when a credential cannot be read: the push is NACKed). */
  configure(servers: readonly GatewayServer[], credentialsDir: string | undefined): void {
    const contexts: ServerContext[] = [];
    for (const s of servers) {
      if (s.protocol !== 'HTTPS' || !s.tls) continue;
      const cred: TlsCredential = loadCredential(s.tls, credentialsDir);
      const mutual = s.tls.mode === 'MUTUAL';
      if (mutual && !cred.ca) throw new Error(`Gateway ${s.gateway}: MUTUAL needs ca.crt in credential ${s.tls.credentialName ?? s.tls.caCertificates}`);
      contexts.push({ server: s, mutual, context: tls.createSecureContext({ cert: cred.cert, key: cred.key, ...(mutual ? { ca: cred.ca } : {}) }) });
    }
    this.contexts = contexts;
    const fallback = contexts.find((c) => c.server.hosts.includes('*'));
    if (fallback) {
      const s = fallback.server;
      const cred = loadCredential(s.tls!, credentialsDir);
      this.tlsServer.setSecureContext({ cert: cred.cert, key: cred.key, ...(fallback.mutual ? { ca: cred.ca } : {}) });
    }
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.tlsServer.once('error', (err) => reject(new Error(`https listener could not bind ${host}:${port}: ${err.message}`)));
      this.tlsServer.listen(port, host, resolve);
    });
    this.port = (this.tlsServer.address() as AddressInfo).port;
  }

  async drain(graceMs: number, inFlight: () => number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.tlsServer.close(() => resolve()));
    this.server.close();
    this.server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.server.closeAllConnections();
    for (const s of this.live) s.destroy();
    await closed;
  }
}
