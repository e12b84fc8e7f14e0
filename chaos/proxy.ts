/**
 * One named proxy: a TCP listener that pairs every accepted client with a fresh upstream
 * connection and runs the proxy's toxics between them (Toxiproxy's Proxy). Disabling it closes
 * the listener and every open connection, which is how Toxiproxy models a service being "down".
 */
import * as net from 'node:net';
import { formatHostPort, goListenError, resolveTcpAddr, splitHostPort } from './address';
import { Connection } from './connection';
import { Mutex } from './mutex';
import type { Rng } from './rng';
import { ToxicCollection } from './toxic_collection';
import type { ToxicContext } from './toxics/toxic';

export const ErrProxyAlreadyStarted = new Error('Proxy already started');

export interface ProxyInput {
  listen: string;
  upstream: string;
  enabled: boolean;
}

export interface ProxyEnv {
  /** Randomness for this proxy: toxicity rolls and toxic parameters, derived from the server seed. */
  rng: Rng;
  log(message: string, fields: Record<string, unknown>): void;
}

export class Proxy {
  enabled = false;
  readonly toxics = new ToxicCollection();
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly connecting = new Set<net.Socket>();
  private readonly lock = new Mutex();
  private readonly toxicRng: Rng;
  private readonly rollRng: Rng;

  constructor(
    readonly name: string,
    public listen: string,
    public upstream: string,
    private readonly env: ProxyEnv,
  ) {
    this.toxicRng = env.rng.derive(`${name}/toxics`);
    this.rollRng = env.rng.derive(`${name}/toxicity`);
  }

  toJSON(): { name: string; listen: string; upstream: string; enabled: boolean } {
    return { name: this.name, listen: this.listen, upstream: this.upstream, enabled: this.enabled };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  start(): Promise<void> {
    return this.lock.run(() => this.startLocked());
  }

  stop(): Promise<void> {
    return this.lock.run(() => this.stopLocked());
  }

  /** PATCH semantics: restart on a new address/upstream, then apply `enabled`. */
  update(input: ProxyInput): Promise<void> {
    return this.lock.run(async () => {
      if (await this.differs(input)) {
        await this.stopLocked();
        this.listen = input.listen;
        this.upstream = input.upstream;
      }
      if (input.enabled !== this.enabled) {
        if (input.enabled) await this.startLocked();
        else await this.stopLocked();
      }
    });
  }

  /** Whether `other` names a different (resolved) listen address or upstream. */
  async differs(other: { listen: string; upstream: string }): Promise<boolean> {
    const resolved = formatHostPort(await resolveTcpAddr(other.listen));
    return this.listen !== resolved || this.upstream !== other.upstream;
  }

  private async startLocked(): Promise<void> {
    if (this.enabled) throw ErrProxyAlreadyStarted;
    let hp;
    try {
      hp = await resolveTcpAddr(this.listen);
    } catch (e) {
      throw new Error(`listen tcp: ${(e as Error).message}`);
    }
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(goListenError(e, hp)));
      server.listen({ host: hp.host === '' ? undefined : hp.host, port: hp.port }, () => resolve());
    });
    server.on('error', () => undefined);
    server.on('connection', (client) => this.accept(client));
    const addr = server.address() as net.AddressInfo;
    this.listen = formatHostPort({ host: addr.address, port: addr.port });
    this.server = server;
    this.enabled = true;
    this.env.log('Started proxy', { name: this.name, proxy: this.listen, upstream: this.upstream });
  }

  private async stopLocked(): Promise<void> {
    if (!this.enabled) return;
    this.enabled = false;
    const server = this.server;
    this.server = null;
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    for (const s of this.connecting) s.destroy();
    this.connecting.clear();
    for (const conn of [...this.connections]) conn.destroy();
    this.connections.clear();
    await closed;
    this.env.log('Terminated proxy', { name: this.name, proxy: this.listen, upstream: this.upstream });
  }

  private accept(client: net.Socket): void {
    client.setNoDelay(true);
    client.on('error', () => undefined);
    let target: { host: string; port: number };
    try {
      const { host, port } = splitHostPort(this.upstream);
      target = { host: host === 'localhost' || host === '' ? '127.0.0.1' : host, port: Number(port) };
    } catch {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    upstream.on('error', () => undefined);
    this.connecting.add(upstream);
    this.connecting.add(client);
    upstream.once('error', () => {
      this.connecting.delete(upstream);
      this.connecting.delete(client);
      this.env.log('Unable to open connection to upstream', { name: this.name, upstream: this.upstream });
      client.destroy();
    });
    upstream.once('connect', () => {
      this.connecting.delete(upstream);
      this.connecting.delete(client);
      if (client.destroyed || !this.enabled) {
        upstream.destroy();
        client.destroy();
        return;
      }
      const ctx: ToxicContext = { random: () => this.toxicRng.next(), intn: (n) => this.toxicRng.intn(n) };
      const conn = new Connection(client, upstream, { onClosed: (c) => this.onConnectionClosed(c) }, ctx, () => this.rollRng.next());
      this.connections.add(conn);
      this.toxics.startConnection(conn);
    });
  }

  private onConnectionClosed(conn: Connection): void {
    this.connections.delete(conn);
    this.toxics.forgetConnection(conn);
  }
}
