import { ChaosClient, type ProxyInfo, type ToxicInfo } from '../../../chaos/client';

/** Where an instance's lab control listens (services/shared/lab.ts: POST/DELETE /lab/sick). */
export interface LabAddress {
  instance: string;
  url: string;
}

export interface ChaosEdge {
  name: string;
  from: string;
  to: string;
  enabled: boolean;
  toxics: ToxicInfo[];
}

/** The toxics the page offers, with Toxiproxy attributes. */
export type ToxicRequest = { proxy: string; type: 'latency'; latency: number; jitter?: number; stream?: 'upstream' | 'downstream' } | { proxy: string; type: 'reset_peer'; timeout?: number; stream?: 'upstream' | 'downstream' };

export class ActionError extends Error {
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/**
 * The dashboard's links to the rest of the world that the registry does not know: the chaos server
 * (from CHAOS_URL or posted later) and each instance's lab control port (posted by the launcher).
 */
export class WorldLinks {
  private chaos?: ChaosClient;
  private readonly labs = new Map<string, string>();
  /** The world's real Zipkin and Prometheus (`--observability`): the trace view links into Zipkin's UI. */
  zipkinUrl?: string;
  prometheusUrl?: string;

  constructor(chaosUrl?: string) {
    this.setChaosUrl(chaosUrl);
  }

  setChaosUrl(url: string | undefined): void {
    this.chaos = url ? new ChaosClient(url) : undefined;
  }

  get chaosUrl(): string | undefined {
    return this.chaos?.apiUrl;
  }

  setLabs(labs: LabAddress[]): void {
    for (const l of labs) this.labs.set(l.instance, l.url.replace(/\/+$/, ''));
  }

  labInstances(): string[] {
    return [...this.labs.keys()].sort();
  }

  /** Every edge proxy with its toxics; undefined when there is no chaos server. */
  async chaosEdges(): Promise<ChaosEdge[] | undefined> {
    if (!this.chaos) return undefined;
    const proxies: Record<string, ProxyInfo> = await this.chaos.listProxies();
    return Object.values(proxies)
      .map((p) => {
        const arrow = p.name.indexOf('->');
        return { name: p.name, from: arrow > 0 ? p.name.slice(0, arrow) : p.name, to: arrow > 0 ? p.name.slice(arrow + 2) : '', enabled: p.enabled, toxics: p.toxics ?? [] };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async addToxic(req: ToxicRequest): Promise<ToxicInfo> {
    const chaos = this.mustChaos();
    if (!req || typeof req.proxy !== 'string') throw new ActionError('body must be {"proxy": "orders->payments-v1-0", "type": "latency", "latency": 300} or {"proxy": ..., "type": "reset_peer", "timeout": 0}');
    const stream = req.stream ?? 'downstream';
    if (req.type === 'latency') {
      if (!(Number.isFinite(req.latency) && req.latency >= 0)) throw new ActionError(`latency must be a number of ms >= 0, got ${JSON.stringify(req.latency)}`);
      return chaos.addToxic(req.proxy, { type: 'latency', name: `latency_${stream}`, stream, attributes: { latency: req.latency, jitter: req.jitter ?? 0 } });
    }
    if (req.type === 'reset_peer') {
      return chaos.addToxic(req.proxy, { type: 'reset_peer', name: `reset_peer_${stream}`, stream, attributes: { timeout: req.timeout ?? 0 } });
    }
    throw new ActionError(`toxic type must be "latency" or "reset_peer", got ${JSON.stringify((req as { type?: unknown }).type)}`);
  }

  async removeToxic(proxy: string, toxic: string): Promise<void> {
    if (!proxy || !toxic) throw new ActionError('body must be {"proxy": "orders->payments-v1-0", "toxic": "latency_downstream"}');
    await this.mustChaos().removeToxic(proxy, toxic);
  }

  /** Forwards to the instance's lab control; `sickness` null heals. */
  async lab(instance: string, sickness: Record<string, unknown> | null): Promise<unknown> {
    const base = this.labs.get(instance);
    if (!base) throw new ActionError(`no lab control known for instance "${instance}"; known: ${this.labInstances().join(', ') || 'none (the launcher posts them to /v1/dashboard/world)'}`, 404);
    const res = await fetch(`${base}/lab/sick`, sickness ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sickness), signal: AbortSignal.timeout(3000) } : { method: 'DELETE', signal: AbortSignal.timeout(3000) });
    const body = (await res.json().catch(() => ({}))) as unknown;
    if (!res.ok) throw new ActionError(`lab ${instance}: ${JSON.stringify(body)}`, res.status);
    return body;
  }

  /** Current sickness per instance (GET /lab), for marking sick instances; unreachable ones are left out. */
  async labStates(): Promise<Record<string, { error_rate: number; latency_ms: number; hang: boolean; status: number }>> {
    const out: Record<string, { error_rate: number; latency_ms: number; hang: boolean; status: number }> = {};
    await Promise.all(
      [...this.labs].map(async ([instance, base]) => {
        try {
          const res = await fetch(`${base}/lab`, { signal: AbortSignal.timeout(800) });
          const body = (await res.json()) as { sickness?: { error_rate: number; latency_ms: number; hang: boolean; status: number } };
          if (body.sickness) out[instance] = body.sickness;
        } catch {
          // instance down: the graph shows it from the registry
        }
      }),
    );
    return out;
  }

  private mustChaos(): ChaosClient {
    if (!this.chaos) throw new ActionError('no chaos server: start the control plane with CHAOS_URL, or POST {"chaosUrl": "http://127.0.0.1:8474"} to /v1/dashboard/world', 409);
    return this.chaos;
  }
}
