/**
 * An external system outside the mesh: a small mail/SMS provider that notifications' confirmations go to. It has
 * no sidecar and knows nothing of the mesh. It listens on loopback on a plaintext HTTP port and a TLS port (its
 * own CA, world/external/provider-pki.ts; the TLS port asks for a client certificate and, with `mutual`,
 * requires one). Its own log records what it received — which port, whether it was TLS, the SNI, the client
 * certificate's CN, the Host, the idempotency key and what it answered — so a lab measures egress from the
 * provider's side. A lab-control port (sick / slow / heal, like the services' `/lab/sick`) and the log are on a
 * third port, never reached through the mesh. Sickness decisions use a seeded generator.
 */
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { meshRandom, type Rng } from '../../mesh/rng';

export interface ProviderSickness {
  /** Share of requests answered with `status` (0..1). */
  error_rate?: number;
  status?: number;
  /** Added before answering, ms (a stall). */
  latency_ms?: number;
}

export interface ReceivedMessage {
  at: number;
  port: 'http' | 'tls';
  tls: boolean;
  sni: string | null;
  client_cert_cn: string | null;
  method: string;
  path: string;
  host: string;
  idempotency_key: string | null;
  status: number;
  /** True when an earlier request with the same key was accepted: not delivered again. */
  duplicate: boolean;
}

export interface MailProviderOptions {
  host?: string;
  httpPort?: number;
  tlsPort?: number;
  controlPort?: number;
  /** PEM of the server certificate and key, and the CA that signs client certificates. */
  tls: { cert: string; key: string; ca: string };
  /** Require a client certificate on the TLS port (mutual TLS). */
  mutual?: boolean;
  seed?: number;
}

export class MailProvider {
  readonly log: ReceivedMessage[] = [];
  /** Idempotency keys delivered (a replay is answered again, not delivered twice). */
  readonly delivered = new Set<string>();
  sickness: ProviderSickness = {};
  /** Called with every request logged (the process writes its log lines here). */
  onReceived?: (entry: ReceivedMessage) => void;
  ports = { http: 0, tls: 0, control: 0 };
  private readonly rng: Rng;
  private httpServer?: http.Server;
  private tlsServer?: https.Server;
  private controlServer?: http.Server;
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly opts: MailProviderOptions) {
    this.rng = meshRandom(opts.seed ?? 17);
  }

  /** Resolves once `n` requests were logged (an event, not a sleep). */
  waitFor(n: number): Promise<void> {
    if (this.log.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async start(): Promise<this> {
    const host = this.opts.host ?? '127.0.0.1';
    this.httpServer = http.createServer((req, res) => this.handle('http', req, res));
    this.tlsServer = https.createServer(
      { cert: this.opts.tls.cert, key: this.opts.tls.key, ca: this.opts.tls.ca, requestCert: true, rejectUnauthorized: this.opts.mutual === true },
      (req, res) => this.handle('tls', req, res),
    );
    this.controlServer = http.createServer((req, res) => this.control(req, res));
    const listen = async (s: http.Server, port: number | undefined): Promise<number> => {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port ?? 0, host, () => resolve());
      });
      return (s.address() as AddressInfo).port;
    };
    this.ports = {
      http: await listen(this.httpServer, this.opts.httpPort),
      tls: await listen(this.tlsServer, this.opts.tlsPort),
      control: await listen(this.controlServer, this.opts.controlPort),
    };
    return this;
  }

  private handle(port: 'http' | 'tls', req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/healthz') return reply(res, 200, { ok: true });
      const socket = req.socket as tls.TLSSocket;
      const isTls = port === 'tls';
      const peer = isTls ? socket.getPeerCertificate() : undefined;
      const key = (req.headers['idempotency-key'] as string | undefined) ?? null;
      const s = this.sickness;
      const fail = s.error_rate !== undefined && s.error_rate > 0 && this.rng() < s.error_rate;
      const status = fail ? (s.status ?? 503) : 202;
      const duplicate = !fail && key !== null && this.delivered.has(key);
      if (!fail && key !== null) this.delivered.add(key);
      const entry: ReceivedMessage = {
        at: Date.now(),
        port,
        tls: isTls,
        sni: isTls ? ((socket as unknown as { servername?: string | false }).servername || null) : null,
        client_cert_cn: peer && peer.subject ? ((peer.subject.CN as string | undefined) ?? null) : null,
        method: req.method ?? '',
        path: req.url ?? '',
        host: req.headers.host ?? '',
        idempotency_key: key,
        status,
        duplicate,
      };
      // Logged (and, when accepted, delivered) on arrival: a slow answer is the provider's, not a lost message.
      this.log.push(entry);
      this.onReceived?.(entry);
      this.waiters = this.waiters.filter((w) => (this.log.length >= w.n ? (w.resolve(), false) : true));
      const answer = (): void => {
        if (res.destroyed) return;
        reply(res, status, fail ? { error: 'provider unavailable' } : { accepted: true, duplicate, bytes: Buffer.concat(chunks).length });
      };
      if (s.latency_ms && s.latency_ms > 0) setTimeout(answer, s.latency_ms);
      else answer();
    });
  }

  private control(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/healthz') return reply(res, 200, { ok: true });
      if (url.pathname === '/lab/sick' && req.method === 'POST') {
        try {
          this.sickness = JSON.parse(Buffer.concat(chunks).toString() || '{}') as ProviderSickness;
        } catch {
          return reply(res, 400, { error: 'body must be JSON: {"error_rate","status","latency_ms"}' });
        }
        return reply(res, 200, this.sickness);
      }
      if (url.pathname === '/lab/sick' && req.method === 'DELETE') {
        this.sickness = {};
        return reply(res, 200, {});
      }
      if (url.pathname === '/lab/log' && req.method === 'GET') {
        const since = Number(url.searchParams.get('since') ?? 0);
        return reply(res, 200, this.log.filter((e) => e.at >= since));
      }
      reply(res, 404, { error: 'GET /lab/log, POST|DELETE /lab/sick' });
    });
  }

  async stop(): Promise<void> {
    for (const s of [this.httpServer, this.tlsServer, this.controlServer]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
