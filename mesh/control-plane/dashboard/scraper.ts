import type { Registry } from '../registry';
import type { ScrapedNode } from './telemetry';

/** What a proxy's admin /clusters says about one upstream host. */
export interface ClusterHost {
  instance: string;
  ejected: boolean;
  active: number;
}

/** One cluster of one proxy as /clusters returns it. */
export interface ClusterView {
  name: string;
  active: number;
  pending: number;
  hosts: ClusterHost[];
}

export interface ScrapeResult {
  node: ScrapedNode;
  /** Prometheus text, absent when the proxy did not answer in time. */
  metrics?: string;
  clusters?: ClusterView[];
  error?: string;
}

/** Admin reads get this long: a proxy that cannot answer in time is shown as not answering, not waited for. */
const TIMEOUT_MS = 800;

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} → ${res.status}`);
  return text;
}

/** Every proxy in the registry that advertises an admin address. */
export function scrapeTargets(registry: Registry): { node: ScrapedNode; base: string }[] {
  return registry
    .list()
    .filter((n) => n.info.admin)
    .map((n) => ({
      node: { id: n.info.id, role: n.info.role, service: n.info.service, version: n.info.version },
      base: `http://${n.info.admin!.host}:${n.info.admin!.port}`,
    }));
}

/** Reads /metrics and /clusters of every proxy at once. */
export async function scrapeAll(registry: Registry): Promise<ScrapeResult[]> {
  return Promise.all(
    scrapeTargets(registry).map(async ({ node, base }) => {
      const [metrics, clusters] = await Promise.allSettled([getText(`${base}/metrics`), getText(`${base}/clusters`).then((t) => JSON.parse(t) as ClusterView[])]);
      return {
        node,
        metrics: metrics.status === 'fulfilled' ? metrics.value : undefined,
        clusters: clusters.status === 'fulfilled' ? clusters.value : undefined,
        error: metrics.status === 'rejected' ? String((metrics.reason as Error).message) : undefined,
      };
    }),
  );
}
