/**
 * The tracing part of Istio's ProxyConfig (`meshConfig.defaultConfig`, or per pod the `proxy.istio.io/config`
 * annotation, which pilot-agent reads from the PROXY_CONFIG environment variable as YAML or JSON):
 *
 *   tracing:
 *     sampling: 100                          # percent, 0–100 (Istio's default 1)
 *     zipkin: { address: 127.0.0.1:9411 }    # Envoy's Zipkin tracer: POST http://ADDRESS/api/v2/spans
 *
 * plus the OpenTelemetry SDK's standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
 * OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces) for an OTLP/HTTP collector such as Jaeger v2.
 * Istio fields meshlab does not implement are errors naming them (ML0003), never ignored.
 */
export interface TracingConfig {
  /** Percent of new traces sampled (a caller's decision, B3 or traceparent, is kept). */
  sampling: number;
  /** host:port of a Zipkin collector. */
  zipkin?: string;
  /** Full OTLP/HTTP traces URL. */
  otlp?: string;
}

/** Istio's meshConfig.defaultConfig.tracing.sampling default. */
export const DEFAULT_SAMPLING = 1;

/** ProxyConfig tracing fields Istio has and meshlab does not implement. */
const UNSUPPORTED_TRACING = ['lightstep', 'datadog', 'stackdriver', 'openCensusAgent', 'customTags', 'maxPathTagLength', 'tlsSettings', 'enableIstioTags'];

export class ProxyConfigError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseTracingConfig(env: { PROXY_CONFIG?: string; OTEL_EXPORTER_OTLP_ENDPOINT?: string; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string }): TracingConfig {
  const out: TracingConfig = { sampling: DEFAULT_SAMPLING };
  const text = env.PROXY_CONFIG?.trim();
  if (text) {
    let doc: unknown;
    try {
      // JSON (what the world hands over) without loading the YAML parser: ~70 modules a sidecar would otherwise
      // load at every start. YAML only when the text is not JSON.
      doc = text.startsWith('{') ? JSON.parse(text) : (require('yaml') as typeof import('yaml')).parse(text);
    } catch (err) {
      throw new ProxyConfigError(`PROXY_CONFIG: not YAML or JSON: ${(err as Error).message}`);
    }
    if (!isObject(doc)) throw new ProxyConfigError('PROXY_CONFIG: must be a ProxyConfig object, e.g. {"tracing":{"sampling":100,"zipkin":{"address":"127.0.0.1:9411"}}}');
    for (const key of Object.keys(doc)) if (key !== 'tracing') throw new ProxyConfigError(`PROXY_CONFIG: ML0003 field "${key}" is not supported by meshlab (only "tracing" is)`);
    const t = doc.tracing;
    if (t !== undefined && t !== null) {
      if (!isObject(t)) throw new ProxyConfigError('PROXY_CONFIG: "tracing" must be an object');
      for (const key of Object.keys(t)) {
        if (UNSUPPORTED_TRACING.includes(key)) throw new ProxyConfigError(`PROXY_CONFIG: ML0003 field "tracing.${key}" is not supported by meshlab (supported: sampling, zipkin)`);
        if (key !== 'sampling' && key !== 'zipkin') throw new ProxyConfigError(`PROXY_CONFIG: IST0106 unknown field "tracing.${key}"`);
      }
      if (t.sampling !== undefined) {
        if (typeof t.sampling !== 'number' || !Number.isFinite(t.sampling) || t.sampling < 0 || t.sampling > 100) throw new ProxyConfigError(`PROXY_CONFIG: "tracing.sampling" must be a percentage from 0 to 100, got ${JSON.stringify(t.sampling)}`);
        out.sampling = t.sampling;
      }
      if (t.zipkin !== undefined) {
        const z = t.zipkin;
        if (!isObject(z) || typeof z.address !== 'string' || Object.keys(z).some((k) => k !== 'address')) throw new ProxyConfigError('PROXY_CONFIG: "tracing.zipkin" must be {address: "host:port"}');
        if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(z.address)) throw new ProxyConfigError(`PROXY_CONFIG: "tracing.zipkin.address" must be host:port, got "${z.address}"`);
        out.zipkin = z.address;
      }
    }
  }
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const otlp = traces || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (otlp) {
    try {
      const u = new URL(otlp);
      if (u.protocol !== 'http:') throw new Error('only http: is supported');
    } catch (err) {
      throw new ProxyConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT: "${otlp}" is not an http URL (${(err as Error).message})`);
    }
    out.otlp = otlp;
  }
  return out;
}

/** The PROXY_CONFIG value that sets this tracing (what the world hands each sidecar). */
export function formatProxyConfig(t: { sampling: number; zipkin?: string }): string {
  return JSON.stringify({ tracing: { sampling: t.sampling, ...(t.zipkin ? { zipkin: { address: t.zipkin } } : {}) } });
}
