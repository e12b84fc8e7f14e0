/**
 * Sidecar-to-sidecar transport security.
 *
 * Server side: a plain `net.Server` that peeks at the first byte of every connection, like Envoy's tls_inspector:
 * 0x16 (a TLS handshake record, i.e. a ClientHello) goes through a TLS 1.3 server that requires a client certificate
 * chaining to the mesh root with a SPIFFE URI SAN; anything else is plaintext. PeerAuthentication decides:
 *   STRICT: mTLS only (plaintext is refused);  PERMISSIVE: both on one port;  DISABLE: plaintext only.
 * Accepted sockets go to an `http.Server` via `emit('connection')` (or a callback), tagged with a ConnInfo
 * readable through `connectionInfo(req.socket)`. Refusals are counted by reason and emitted.
 *
 * Client side: `mtlsConnector()` is an undici `connect` function: TLS 1.3 with the current workload certificate,
 * verifying the server chain to the mesh root and its SPIFFE id instead of a hostname.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { buildConnector } from 'undici';
import type { WorkloadCertManager } from './workload-cert';
import { parseSpiffeId, TRUST_DOMAIN } from './identity';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
export const MTLS_MODES: readonly MtlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];

/** Label value for Istio's `connection_security_policy` metric label. */
export type ConnectionSecurityPolicy = 'mutual_tls' | 'none';

export interface ConnInfo {
  mtls: boolean;
  connectionSecurityPolicy: ConnectionSecurityPolicy;
  /** Full SPIFFE id of the peer (spiffe://cluster.local/ns/default/sa/orders) when mTLS. */
  peerPrincipal?: string;
  /** Peer certificate serial (lowercase hex) when mTLS. */
  peerSerial?: string;
  /** Our own certificate serial used for this handshake, when mTLS. */
  localSerial?: string;
}

export type RefusalReason =
  | 'plaintext_in_strict' // plaintext first byte while STRICT
  | 'tls_in_disable' // a ClientHello while DISABLE
  | 'no_client_cert' // TLS without a client certificate
  | 'untrusted_cert' // client certificate does not chain to the mesh root (foreign CA, expired, ...)
  | 'bad_peer_identity' // chain ok but no acceptable SPIFFE URI SAN
  | 'tls_version' // client offered less than TLS 1.3
  | 'handshake_error' // any other TLS failure
  | 'sniff_timeout'; // connection sent nothing

export interface RefusedEvent {
  reason: RefusalReason;
  connectionSecurityPolicy: ConnectionSecurityPolicy;
  remoteAddress?: string;
  detail?: string;
}

export interface MtlsServerOptions {
  mode: MtlsMode;
  certs: WorkloadCertManager;
  /** Where accepted sockets go: a server fed with emit('connection') (an http.Server, or the listener's raw one) or a callback. */
  handler: net.Server | ((socket: net.Socket, info: ConnInfo) => void);
  /** Extra gate on the peer SPIFFE id (default: any id in the trust domain). */
  acceptPeer?: (spiffeId: string) => boolean;
  trustDomain?: string;
  /** Connections that send nothing for this long are dropped (default 10 s). */
  sniffTimeoutMs?: number;
  /**
   * Where an mTLS connection that negotiated ALPN `meshlab-tcp/<port>` goes (a peer sidecar's TCP proxy for the
   * service port <port>: mesh/tcp/): TCP, not HTTP. Without it such connections go to `handler` like any other.
   */
  tcp?: (socket: tls.TLSSocket, info: ConnInfo, port: number) => void;
}

/** The ALPN protocol a sidecar's TCP proxy offers to a peer sidecar: it names the service port the stream is for. */
export const TCP_ALPN_PREFIX = 'meshlab-tcp/';

const INFO = Symbol('meshlab.connInfo');
type Tagged = net.Socket & { [INFO]?: ConnInfo };

/** The security facts of an accepted connection (pass `req.socket`); undefined for sockets not from an MtlsServer. */
export function connectionInfo(socket: net.Socket | undefined | null): ConnInfo | undefined {
  return socket ? (socket as Tagged)[INFO] : undefined;
}

export interface MtlsServerStats {
  accepted: Record<ConnectionSecurityPolicy, number>;
  refused: Partial<Record<RefusalReason, number>>;
}

/**
 * Events: 'accepted' (ConnInfo), 'refused' (RefusedEvent).
 * Rotation: listens to the manager's 'rotated' and swaps the TLS server's context; live connections are untouched.
 */
export class MtlsServer extends EventEmitter {
  readonly server: net.Server;
  readonly stats: MtlsServerStats = { accepted: { mutual_tls: 0, none: 0 }, refused: {} };
  private modeValue: MtlsMode;
  private readonly tlsServer: tls.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly onRotated = () => this.tlsServer.setSecureContext(contextOptions(this.opts.certs));

  constructor(private readonly opts: MtlsServerOptions) {
    super();
    this.modeValue = checkMode(opts.mode);
    this.tlsServer = tls.createServer({
      ...contextOptions(opts.certs),
      requestCert: true,
      // Verified in onSecure so every refusal is observable and counted (Node destroys silently otherwise).
      rejectUnauthorized: false,
      // A peer's TCP proxy names the service port in ALPN (Envoy reads it from the original destination instead).
      ALPNCallback: ({ protocols }) => protocols.find((p) => p.startsWith(TCP_ALPN_PREFIX)) ?? (protocols.includes('http/1.1') ? 'http/1.1' : protocols[0]),
    });
    this.tlsServer.on('secureConnection', (s: tls.TLSSocket) => this.onSecure(s));
    this.tlsServer.on('tlsClientError', (err: Error & { code?: string }, s: tls.TLSSocket) => {
      const reason: RefusalReason =
        err.code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || /version/i.test(err.message) ? 'tls_version' : 'handshake_error';
      this.refuse(s, reason, 'mutual_tls', err.message);
    });
    opts.certs.on('rotated', this.onRotated);
    this.server = net.createServer((socket) => this.onRaw(socket));
  }

  get mode(): MtlsMode {
    return this.modeValue;
  }

  /** Applies a new PeerAuthentication mode to connections accepted from now on. */
  setMode(mode: MtlsMode): void {
    this.modeValue = checkMode(mode);
  }

  listen(port = 0, host = '127.0.0.1'): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** Stops accepting, destroys open connections, detaches from the cert manager. */
  close(): Promise<void> {
    this.opts.certs.off('rotated', this.onRotated);
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }

  private onRaw(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // errors surface as close; counted where meaningful
    socket.setTimeout(this.opts.sniffTimeoutMs ?? 10_000, () => this.refuse(socket, 'sniff_timeout', 'none'));
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(chunk);
      const isTls = chunk[0] === 0x16;
      const mode = this.modeValue;
      if (isTls && mode === 'DISABLE') return this.refuse(socket, 'tls_in_disable', 'mutual_tls');
      if (!isTls && mode === 'STRICT') return this.refuse(socket, 'plaintext_in_strict', 'none');
      if (isTls) {
        this.tlsServer.emit('connection', socket);
      } else {
        this.accept(socket, { mtls: false, connectionSecurityPolicy: 'none' });
        // http.Server does not resume a paused socket; the unshifted chunk flows to its parser first.
        socket.resume();
      }
    });
  }

  private onSecure(s: tls.TLSSocket): void {
    s.on('error', () => undefined);
    const peer = s.getPeerCertificate();
    if (!peer || !peer.raw) return this.refuse(s, 'no_client_cert', 'mutual_tls');
    if (!s.authorized) return this.refuse(s, 'untrusted_cert', 'mutual_tls', String(s.authorizationError));
    const id = spiffeIdOf(peer, this.opts.trustDomain ?? TRUST_DOMAIN);
    if (!id || (this.opts.acceptPeer && !this.opts.acceptPeer(id))) {
      return this.refuse(s, 'bad_peer_identity', 'mutual_tls', `peer SAN: ${peer.subjectaltname ?? 'none'}`);
    }
    const local = s.getCertificate() as tls.PeerCertificate | null;
    this.accept(s, {
      mtls: true,
      connectionSecurityPolicy: 'mutual_tls',
      peerPrincipal: id,
      peerSerial: peer.serialNumber?.toLowerCase(),
      localSerial: local?.serialNumber?.toLowerCase(),
    });
  }

  private accept(socket: net.Socket, info: ConnInfo): void {
    (socket as Tagged)[INFO] = info;
    this.stats.accepted[info.connectionSecurityPolicy]++;
    this.emit('accepted', info);
    const alpn = (socket as tls.TLSSocket).alpnProtocol;
    if (this.opts.tcp && typeof alpn === 'string' && alpn.startsWith(TCP_ALPN_PREFIX)) return this.opts.tcp(socket as tls.TLSSocket, info, Number(alpn.slice(TCP_ALPN_PREFIX.length)));
    const h = this.opts.handler;
    if (typeof h === 'function') h(socket, info);
    else h.emit('connection', socket);
  }

  private refuse(socket: net.Socket, reason: RefusalReason, policy: ConnectionSecurityPolicy, detail?: string): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
    const ev: RefusedEvent = { reason, connectionSecurityPolicy: policy, remoteAddress: socket.remoteAddress, detail };
    this.emit('refused', ev);
    socket.destroy();
  }
}

export function createMtlsServer(opts: MtlsServerOptions): MtlsServer {
  return new MtlsServer(opts);
}

function checkMode(mode: string): MtlsMode {
  if (!(MTLS_MODES as readonly string[]).includes(mode)) {
    throw new Error(`mTLS mode "${mode}" is not one of ${MTLS_MODES.join(', ')}`);
  }
  return mode as MtlsMode;
}

function contextOptions(certs: WorkloadCertManager): tls.SecureContextOptions {
  const c = certs.current();
  return { key: c.key, cert: c.cert, ca: c.root, minVersion: 'TLSv1.3' };
}

/** The single SPIFFE URI SAN of a certificate within the trust domain, else undefined. */
export function spiffeIdOf(cert: tls.PeerCertificate, trustDomain = TRUST_DOMAIN): string | undefined {
  const uris = (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
  if (uris.length !== 1) return undefined;
  const parsed = parseSpiffeId(uris[0]);
  if (!parsed || !uris[0].startsWith('spiffe://') || parsed.trustDomain !== trustDomain) return undefined;
  return uris[0];
}

/** What undici passes to a custom `connect` function, and its callback. */
export type ConnectorOptions = buildConnector.Options;
export type ConnectorCallback = buildConnector.Callback;

export interface MtlsConnectorOptions {
  certs: WorkloadCertManager;
  /** The SPIFFE id the peer at `host:port` must present; undefined accepts any mesh identity. */
  expectedPeer?: (host: string, port: number) => string | undefined;
  trustDomain?: string;
  /** Connect + handshake deadline (default 10 s). */
  timeoutMs?: number;
  /** Observes every established connection (e.g. to record destination_principal). */
  onConnect?: (socket: tls.TLSSocket, info: ConnInfo) => void;
}

/**
 * An undici `connect` function: `new Pool('http://127.0.0.1:15006', { connect: mtlsConnector({certs}) })`.
 * Each new connection uses the manager's current certificate, so rotation needs no Pool rebuild.
 */
export function mtlsConnector(opts: MtlsConnectorOptions): buildConnector.connector {
  const trustDomain = opts.trustDomain ?? TRUST_DOMAIN;
  return function connect(o: ConnectorOptions, callback: ConnectorCallback): tls.TLSSocket {
    const port = Number(o.port);
    const host = o.hostname;
    const current = opts.certs.current();
    const expected = opts.expectedPeer?.(host, port);
    let peerId: string | undefined;
    let done = false;
    const finish = (err: Error | null, s: tls.TLSSocket | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) callback(err, null);
      else callback(null, s as tls.TLSSocket);
    };
    const socket = tls.connect({
      host,
      port,
      secureContext: current.secureContext,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: true,
      // Mesh peers are named by SPIFFE id, not by DNS name or IP.
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdOf(cert, trustDomain);
        if (!id) return new Error(`peer ${host}:${port} presented no SPIFFE id in ${trustDomain} (SAN: ${cert.subjectaltname ?? 'none'})`);
        if (expected && id !== expected) return new Error(`peer ${host}:${port} is ${id}, expected ${expected}`);
        peerId = id;
        return undefined;
      },
    });
    const timer = setTimeout(() => {
      const err = new Error(`mTLS connect to ${host}:${port} timed out after ${opts.timeoutMs ?? 10_000} ms`);
      socket.destroy(err);
      finish(err, null);
    }, opts.timeoutMs ?? 10_000);
    timer.unref();
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const info: ConnInfo = {
        mtls: true,
        connectionSecurityPolicy: 'mutual_tls',
        peerPrincipal: peerId,
        peerSerial: peer?.serialNumber?.toLowerCase(),
        localSerial: current.serial,
      };
      (socket as Tagged)[INFO] = info;
      opts.onConnect?.(socket, info);
      finish(null, socket);
    });
    socket.on('error', (err) => finish(err, null)); // 'on': a second error before undici attaches must not crash
    return socket;
  };
}
