import { parsePromText } from './prom-text';

/**
 * A proxy whose admin /metrics was read. Its outbound (reporter="source") series are its edges' traffic; its
 * inbound (reporter="destination") series say how each edge into it was secured, as Kiali reads them: only the
 * destination knows (the source reports connection_security_policy="unknown", as Istio's does), and a caller
 * without a sidecar appears only there.
 */
export interface ScrapedNode {
  id: string;
  role: 'sidecar' | 'gateway';
  service: string;
  version?: string;
}

/** Requests on one edge during one scrape interval. */
export interface EdgeDelta {
  /** TCP edges (the brokers through the mesh): connections opened and bytes both ways (istio_tcp_*). */
  tcpConnections?: number;
  tcpBytes?: number;
  requests: number;
  errors: number;
  mtls: number;
  codes: Record<string, number>;
  flags: Record<string, number>;
  /** Histogram bucket increments by `le` (cumulative per bound, as Prometheus prints them). */
  le: Record<string, number>;
}

/** One edge of the service graph over a window. */
export interface EdgeStats {
  /** Graph node ids: `orders:v1`, `payments:v2`, `istio-ingressgateway`, `payments:unknown`. */
  source: string;
  target: string;
  service: string;
  version: string;
  requests: number;
  rps: number;
  /** 5xx and no-response share of requests, 0–1; 0 without traffic. */
  errorRate: number;
  /** From the duration histogram (interpolated within Envoy's buckets); null without traffic. */
  p99Ms: number | null;
  /** Whether every request the destination saw in the window came over mutual TLS (destination-reported). */
  mtls: boolean;
  /** Share of the destination-reported requests over mutual TLS, 0–1; null when the destination reported none. */
  mtlsShare: number | null;
  /** Which reporter the traffic numbers come from: the caller's sidecar, or (caller without a sidecar) the destination's. */
  reporter: 'source' | 'destination';
  codes: Record<string, number>;
  flags: Record<string, number>;
  /** 'tcp' for an edge only TCP metrics saw (a broker): its connections and bytes/s instead of requests. */
  protocol: 'http' | 'tcp';
  tcpConnections: number;
  tcpBytesPerSec: number;
}

interface Tick {
  t: number;
  /** Milliseconds this tick's deltas cover. */
  dt: number;
  edges: Map<string, EdgeDelta>;
}

const REQUESTS = 'istio_requests_total';
const BUCKET = 'istio_request_duration_milliseconds_bucket';
const TCP_OPENED = 'istio_tcp_connections_opened_total';
const TCP_BYTES = new Set(['istio_tcp_sent_bytes_total', 'istio_tcp_received_bytes_total']);
const NAMES = new Set([REQUESTS, BUCKET, TCP_OPENED, ...TCP_BYTES]);

export const GATEWAY_NODE = 'istio-ingressgateway';

/** Key prefix of an edge's destination-reported deltas. */
const DEST = 'd|';

/** The graph node of a destination-reported caller: source_workload is `<service>-<version>` (the gateway's has no version in the graph). */
export function sourceNodeOf(workload: string | undefined, version: string | undefined): string {
  if (!workload || workload === 'unknown') return 'unknown';
  const service = version && workload.endsWith(`-${version}`) ? workload.slice(0, -version.length - 1) : workload;
  return service === GATEWAY_NODE ? GATEWAY_NODE : workloadNode(service, version);
}

/** The graph node id of a workload. */
export function workloadNode(service: string, version: string | undefined, role: 'sidecar' | 'gateway' = 'sidecar'): string {
  return role === 'gateway' ? service : `${service}:${version ?? 'unknown'}`;
}

export function isError(code: string): boolean {
  const n = Number(code);
  return !(n > 0 && n < 500);
}

/**
 * Live request telemetry built the way Prometheus would: each scrape's counters minus the previous
 * scrape's (a counter that went down means the proxy restarted, and its whole value is new), kept
 * as one tick per scrape for the last `keepTicks` scrapes, so rates, error ratios, p99 and version
 * shares can be read over any window up to that.
 */
export class Telemetry {
  private readonly last = new Map<string, Map<string, number>>();
  private readonly ticks: Tick[] = [];
  private lastT?: number;

  constructor(private readonly keepTicks = 65) {}

  /** Forgets everything (scraping stopped: the next scrape is a new baseline). */
  reset(): void {
    this.last.clear();
    this.ticks.length = 0;
    this.lastT = undefined;
  }

  /** Adds one scrape round: the /metrics text of every proxy that answered, read at time `t` (ms). */
  tick(t: number, scrapes: { node: ScrapedNode; text: string }[]): void {
    const edges = new Map<string, EdgeDelta>();
    // Buckets that did not move still bound the interpolation (the `le` below the one that did).
    const unmoved: { key: string; le: string }[] = [];
    for (const { node, text } of scrapes) {
      const firstScrape = !this.last.has(node.id);
      const prev = this.last.get(node.id) ?? new Map<string, number>();
      const next = new Map<string, number>();
      const source = workloadNode(node.service, node.version, node.role);
      for (const s of parsePromText(text, NAMES)) {
        const reporter = s.labels.reporter;
        if (reporter !== 'source' && reporter !== 'destination') continue;
        const seriesKey = s.name + s.key;
        next.set(seriesKey, s.value);
        if (firstScrape) continue;
        const before = prev.get(seriesKey) ?? 0;
        const delta = s.value >= before ? s.value - before : s.value;
        let key: string;
        if (reporter === 'source') {
          const service = s.labels.destination_service_name || 'unknown';
          const version = service === 'unknown' ? 'unknown' : s.labels.destination_version || 'unknown';
          const target = service === 'unknown' ? 'unknown' : workloadNode(service, version);
          key = `${source}>${target}`;
        } else key = `${DEST}${sourceNodeOf(s.labels.source_workload, s.labels.source_version)}>${source}`;
        if (delta === 0) {
          if (s.name === BUCKET) unmoved.push({ key, le: s.labels.le });
          continue;
        }
        let e = edges.get(key);
        if (!e) edges.set(key, (e = { requests: 0, errors: 0, mtls: 0, codes: {}, flags: {}, le: {} }));
        if (s.name === TCP_OPENED) {
          e.tcpConnections = (e.tcpConnections ?? 0) + delta;
          const flags = s.labels.response_flags ?? '-';
          if (flags !== '-') e.flags[flags] = (e.flags[flags] ?? 0) + delta;
        } else if (TCP_BYTES.has(s.name)) {
          e.tcpBytes = (e.tcpBytes ?? 0) + delta;
        } else if (s.name === REQUESTS) {
          const code = s.labels.response_code ?? '0';
          e.requests += delta;
          if (isError(code)) e.errors += delta;
          if (s.labels.connection_security_policy === 'mutual_tls') e.mtls += delta;
          e.codes[code] = (e.codes[code] ?? 0) + delta;
          const flags = s.labels.response_flags ?? '-';
          if (flags !== '-') e.flags[flags] = (e.flags[flags] ?? 0) + delta;
        } else {
          const le = s.labels.le;
          e.le[le] = (e.le[le] ?? 0) + delta;
        }
      }
      this.last.set(node.id, next);
    }
    for (const { key, le } of unmoved) {
      const e = edges.get(key);
      if (e) e.le[le] ??= 0;
    }
    const dt = this.lastT === undefined ? 0 : Math.max(0, t - this.lastT);
    this.lastT = t;
    if (dt === 0) return; // the baseline scrape: nothing to attribute to an interval yet
    this.ticks.push({ t, dt, edges });
    while (this.ticks.length > this.keepTicks) this.ticks.shift();
  }

  /** Ticks covering (at most) the last `windowMs`. */
  private window(windowMs: number): Tick[] {
    const out: Tick[] = [];
    let covered = 0;
    for (let i = this.ticks.length - 1; i >= 0 && covered < windowMs; i--) {
      out.push(this.ticks[i]);
      covered += this.ticks[i].dt;
    }
    return out;
  }

  /** Edge statistics over the last `windowMs`; edges seen earlier in the kept history appear with zero traffic. */
  edges(windowMs: number): EdgeStats[] {
    const win = this.window(windowMs);
    const seconds = win.reduce((s, t) => s + t.dt, 0) / 1000;
    const sums = new Map<string, EdgeDelta>();
    for (const tick of this.ticks) for (const key of tick.edges.keys()) if (!sums.has(key)) sums.set(key, { requests: 0, errors: 0, mtls: 0, codes: {}, flags: {}, le: {} });
    for (const tick of win) {
      for (const [key, d] of tick.edges) {
        const s = sums.get(key)!;
        s.requests += d.requests;
        s.errors += d.errors;
        s.mtls += d.mtls;
        if (d.tcpConnections) s.tcpConnections = (s.tcpConnections ?? 0) + d.tcpConnections;
        if (d.tcpBytes) s.tcpBytes = (s.tcpBytes ?? 0) + d.tcpBytes;
        for (const [k, v] of Object.entries(d.codes)) s.codes[k] = (s.codes[k] ?? 0) + v;
        for (const [k, v] of Object.entries(d.flags)) s.flags[k] = (s.flags[k] ?? 0) + v;
        for (const [k, v] of Object.entries(d.le)) s.le[k] = (s.le[k] ?? 0) + v;
      }
    }
    const empty = (): EdgeDelta => ({ requests: 0, errors: 0, mtls: 0, codes: {}, flags: {}, le: {} });
    const keys = new Set([...sums.keys()].map((k) => (k.startsWith(DEST) ? k.slice(DEST.length) : k)));
    return [...keys].map((key) => {
      const src = sums.get(key);
      const dst = sums.get(DEST + key) ?? empty();
      // Traffic from the caller's sidecar when it has one (it also counts what never reached the destination: UO, UF…).
      const fromSource = src !== undefined && (src.requests > 0 || dst.requests === 0);
      const s = fromSource ? src : dst;
      const [source, target] = key.split('>');
      const [service, version] = target === 'unknown' ? ['unknown', 'unknown'] : target.split(':');
      return {
        source,
        target,
        service: service === GATEWAY_NODE ? GATEWAY_NODE : service,
        version: version ?? 'unknown',
        requests: s.requests,
        rps: seconds > 0 ? s.requests / seconds : 0,
        errorRate: s.requests > 0 ? s.errors / s.requests : 0,
        p99Ms: histogramQuantile(0.99, s.le),
        mtls: dst.requests > 0 && dst.mtls === dst.requests,
        mtlsShare: dst.requests > 0 ? dst.mtls / dst.requests : null,
        reporter: fromSource ? 'source' : 'destination',
        codes: s.codes,
        flags: s.flags,
        protocol: s.requests === 0 && (s.tcpConnections !== undefined || s.tcpBytes !== undefined) ? 'tcp' : 'http',
        tcpConnections: s.tcpConnections ?? 0,
        tcpBytesPerSec: seconds > 0 ? (s.tcpBytes ?? 0) / seconds : 0,
      };
    });
  }

  /** Requests per destination version of `service` over the last `windowMs`, from every caller. */
  versionCounts(service: string, windowMs: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const tick of this.window(windowMs)) {
      for (const [key, d] of tick.edges) {
        if (key.startsWith(DEST)) continue;
        const target = key.slice(key.indexOf('>') + 1);
        const colon = target.indexOf(':');
        if (colon < 0 || target.slice(0, colon) !== service) continue;
        const version = target.slice(colon + 1);
        out[version] = (out[version] ?? 0) + d.requests;
      }
    }
    return out;
  }

  /** Seconds of history the window functions can see. */
  get historyMs(): number {
    return this.ticks.reduce((s, t) => s + t.dt, 0);
  }
}

/**
 * Prometheus' histogram_quantile over cumulative bucket counts: find the bucket holding the
 * q-th observation and interpolate linearly inside it; an answer in +Inf is the highest finite bound.
 */
export function histogramQuantile(q: number, le: Record<string, number>): number | null {
  const bounds = Object.entries(le)
    .map(([k, v]) => ({ bound: k === '+Inf' ? Infinity : Number(k), count: v }))
    .filter((b) => !Number.isNaN(b.bound))
    .sort((a, b) => a.bound - b.bound);
  if (bounds.length === 0) return null;
  const total = bounds[bounds.length - 1].count;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of bounds) {
    if (b.count >= rank) {
      if (b.bound === Infinity) return prevBound;
      if (b.count === prevCount) return b.bound;
      return prevBound + ((b.bound - prevBound) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevBound = b.bound;
    prevCount = b.count;
  }
  return prevBound;
}
