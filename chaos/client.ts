/**
 * A small typed helper over the npm `toxiproxy-node-client`, for the world and scenarios.
 * Works against this chaos server or a real Toxiproxy. Proxies are named per mesh edge,
 * "<from>-><to>" (e.g. "orders->payments").
 */
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';

export type ToxicTypeName = 'latency' | 'bandwidth' | 'slow_close' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data' | 'noop';
export type StreamName = 'upstream' | 'downstream';

export interface ToxicSpec {
  /** Defaults to "<type>_<stream>" on the server. */
  name?: string;
  type: ToxicTypeName;
  /** Defaults to "downstream" (server -> client). */
  stream?: StreamName;
  /** Probability per connection that the toxic applies; defaults to 1. */
  toxicity?: number;
  attributes?: Record<string, number>;
}

export interface ToxicInfo {
  name: string;
  type: string;
  stream: string;
  toxicity: number;
  attributes: Record<string, number>;
}

export interface ProxyInfo {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicInfo[];
}

export interface EnsureProxyOptions {
  name: string;
  upstream: string;
  /** Listen address; default "127.0.0.1:0" (an ephemeral port, reported resolved). */
  listen?: string;
}

/** The proxy name the world uses for the edge from one service to another. */
export function edgeProxyName(from: string, to: string): string {
  return `${from}->${to}`;
}

function isNotFound(e: unknown): boolean {
  return e instanceof ToxiproxyError && /status code 404\b/.test(e.message);
}

export class ChaosClient {
  readonly toxiproxy: Toxiproxy;

  constructor(readonly apiUrl: string) {
    this.toxiproxy = new Toxiproxy(apiUrl.replace(/\/+$/, ''));
  }

  /** Creates the proxy, or points an existing one at `upstream` (and `listen` when given). */
  async ensureProxy(opts: EnsureProxyOptions): Promise<ProxyInfo> {
    try {
      const existing = await this.toxiproxy.get(opts.name);
      const listen = opts.listen ?? existing.listen;
      if (existing.upstream !== opts.upstream || (opts.listen !== undefined && existing.listen !== opts.listen)) {
        await this.wrap(`updating proxy "${opts.name}"`, () => existing.update({ listen, upstream: opts.upstream, enabled: existing.enabled }));
      }
    } catch (e) {
      if (!isNotFound(e)) throw this.describe(`looking up proxy "${opts.name}"`, e);
      await this.wrap(`creating proxy "${opts.name}"`, () =>
        this.toxiproxy.createProxy({ name: opts.name, listen: opts.listen ?? '127.0.0.1:0', upstream: opts.upstream }),
      );
    }
    return this.getProxy(opts.name);
  }

  async getProxy(name: string): Promise<ProxyInfo> {
    const res = await this.wrap(`reading proxy "${name}"`, () => this.toxiproxy.getApi().get<ProxyInfo>(this.proxyUrl(name)));
    return res.data;
  }

  async addToxic(proxy: string, toxic: ToxicSpec): Promise<ToxicInfo> {
    const p = await this.wrap(`looking up proxy "${proxy}"`, () => this.toxiproxy.get(proxy));
    const body = { stream: 'downstream', toxicity: 1, attributes: {}, ...toxic } as Parameters<typeof p.addToxic>[0];
    const created = await this.wrap(`adding ${toxic.type} toxic to proxy "${proxy}"`, () => p.addToxic(body));
    return created.toJson() as ToxicInfo;
  }

  async removeToxic(proxy: string, toxic: string): Promise<void> {
    await this.wrap(`removing toxic "${toxic}" from proxy "${proxy}"`, () =>
      this.toxiproxy.getApi().delete(`${this.proxyUrl(proxy)}/toxics/${encodeURIComponent(toxic)}`),
    );
  }

  /** Enables or disables a proxy; disabled means "down": listener and connections closed. */
  async setEnabled(proxy: string, enabled: boolean): Promise<ProxyInfo> {
    const p = await this.wrap(`looking up proxy "${proxy}"`, () => this.toxiproxy.get(proxy));
    await this.wrap(`setting enabled=${enabled} on proxy "${proxy}"`, () => p.update({ listen: p.listen, upstream: p.upstream, enabled }));
    return this.getProxy(proxy);
  }

  /** Every proxy with its toxics, keyed by name. */
  async listProxies(): Promise<Record<string, ProxyInfo>> {
    const res = await this.wrap('listing proxies', () => this.toxiproxy.getApi().get<Record<string, ProxyInfo>>(`${this.toxiproxy.host}/proxies`));
    return res.data;
  }

  /** Re-enables every proxy and removes every toxic. */
  async reset(): Promise<void> {
    await this.wrap('resetting', () => this.toxiproxy.reset());
  }

  private proxyUrl(name: string): string {
    return `${this.toxiproxy.host}/proxies/${encodeURIComponent(name)}`;
  }

  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.describe(what, e);
    }
  }

  private describe(what: string, e: unknown): Error {
    const msg = e instanceof Error ? e.message : String(e);
    return new Error(`chaos client (${this.apiUrl}): ${what} failed: ${msg}`);
  }
}
