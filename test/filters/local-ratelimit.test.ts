import { TokenBucket, LocalRateLimitFilter } from '../../mesh/filters/local-ratelimit';
import { readEnvoyFilter } from '../../mesh/filters/envoy-filter';
import { loadYaml } from '../../mesh/config/load';
import { analyze } from '../../mesh/config/analyze';
import { seededRandom } from '../../lib/random';
import { StreamInfo } from '../../mesh/stream-info';
import type { IncomingMessage } from 'node:http';
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import { call, closeAgent, metric, push } from '../mesh/harness';
import { startApps, startGateway } from '../gateway/helpers';

/** A clock the test moves. */
class FakeClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

const BUCKET = { maxTokens: 10, tokensPerFill: 1, fillIntervalMs: 50 }; // 20 rps, burst 10

/** Istio's "Enabling Rate Limits using Envoy" local rate limit, as the task writes it (TypedStruct form). */
const ISTIO_TASK = (tokens = 10, perFill = 1, interval = '0.05s', extra = '') => `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-gateway
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      istio: ingressgateway
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: GATEWAY
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: ${tokens}
                tokens_per_fill: ${perFill}
                fill_interval: ${interval}
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append: false
                  header:
                    key: x-local-rate-limit
                    value: 'true'
${extra}`;

describe('the token bucket (Envoy local_ratelimit semantics) on an injected clock', () => {
  test('20 rps with a burst of 10, offered 40 rps for 2,000 requests: 1,009 allowed (10 + one per 50 ms fill) — within ±5% of 20/s × 49.975 s + 10', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(BUCKET, clock);
    let allowed = 0;
    for (let i = 0; i < 2000; i++) {
      if (bucket.consume()) allowed++;
      clock.t += 25;
    }
    expect(allowed).toBe(1009);
    const expected = 10 + 20 * ((1999 * 25) / 1000);
    expect(Math.abs(allowed - expected) / expected).toBeLessThan(0.05);
  });

  test('Poisson arrivals at 60 rps (seed 7) over 2,000 requests: the allowed rate is 20/s within ±5% after the burst', () => {
    const clock = new FakeClock();
    const start = clock.t;
    const rng = seededRandom(7);
    const bucket = new TokenBucket(BUCKET, clock);
    let allowed = 0;
    for (let i = 0; i < 2000; i++) {
      clock.t += -Math.log(1 - rng()) * (1000 / 60);
      if (bucket.consume()) allowed++;
    }
    const seconds = (clock.t - start) / 1000;
    const rate = (allowed - 10) / seconds;
    expect(Math.abs(rate - 20) / 20).toBeLessThan(0.05);
  });

  test('a bucket never holds more than max_tokens: after 1 h idle, 10 requests pass at once and the 11th is limited', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(BUCKET, clock);
    for (let i = 0; i < 10; i++) bucket.consume();
    clock.t += 3_600_000;
    const out = Array.from({ length: 11 }, () => bucket.consume());
    expect(out.filter(Boolean).length).toBe(10);
    expect(out[10]).toBe(false);
  });
});

describe('filter_enabled and filter_enforced (fractional percent, seeded)', () => {
  const req = {} as IncomingMessage;
  const run = (enabled: number, enforced: number) => {
    const clock = new FakeClock();
    const f = new LocalRateLimitFilter({ statPrefix: 't', tokenBucket: BUCKET, enabledPercent: enabled, enforcedPercent: enforced, responseHeaders: { 'x-local-rate-limit': 'true' } }, clock, seededRandom(11));
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const r = f.decodeHeaders(req, new StreamInfo('outbound'));
      if (r) {
        refused++;
        expect(r).toMatchObject({ status: 429, flag: 'RL', body: 'local_rate_limited', headers: { 'x-envoy-ratelimited': 'true', 'x-local-rate-limit': 'true' } });
      }
      clock.t += 25;
    }
    return { refused, ...f.counters };
  };

  test('enabled 100 / enforced 100: 991 of 2,000 refused with 429 RL; enforced 0: 991 counted rate_limited, 0 refused; enabled 0: nothing checked', () => {
    expect(run(100, 100)).toEqual({ refused: 991, enabled: 2000, enforced: 991, rateLimited: 991, ok: 1009 });
    expect(run(100, 0)).toEqual({ refused: 0, enabled: 2000, enforced: 0, rateLimited: 991, ok: 1009 });
    expect(run(0, 100)).toEqual({ refused: 0, enabled: 0, enforced: 0, rateLimited: 0, ok: 0 });
  });

  test('enforced 50%: about half of the limited requests are refused (seeded: within ±5 points)', () => {
    const r = run(100, 50);
    expect(Math.abs(r.refused / r.rateLimited - 0.5)).toBeLessThan(0.05);
  });
});

describe('EnvoyFilter: exactly the documented local rate limit shape, anything else ML0003 by path', () => {
  const messages = (yaml: string) => analyze(loadYaml(yaml, 'ef.yaml').resources, {}).filter((m) => m.level === 'Error');

  test('the Istio task\'s TypedStruct form and the typed form load with no message and read as 10 tokens, 1 per 50 ms', () => {
    expect(messages(ISTIO_TASK())).toEqual([]);
    // Istio's newer docs: the filter typed directly, append_action instead of append.
    const typed = ISTIO_TASK()
      .replace('"@type": type.googleapis.com/udpa.type.v1.TypedStruct\n            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n            value:\n', '"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n')
      .split('\n')
      .map((l, i, all) => (i > all.findIndex((x) => x.includes('"@type"')) && l.startsWith('              ') ? l.slice(2) : l))
      .join('\n')
      .replace('append: false', 'append_action: OVERWRITE_IF_EXISTS_OR_ADD');
    expect(messages(typed)).toEqual([]);
    const spec = loadYaml(typed, 'ef.yaml').resources[0].spec;
    expect(readEnvoyFilter(spec).filter?.rateLimit.tokenBucket).toEqual(BUCKET);
  });

  test.each([
    ['per-route (HTTP_ROUTE)', (y: string) => y.replace('applyTo: HTTP_FILTER', 'applyTo: HTTP_ROUTE'), 'spec.configPatches[0].applyTo'],
    ['another filter (Lua)', (y: string) => y.replace('name: envoy.filters.http.local_ratelimit', 'name: envoy.filters.http.lua'), 'spec.configPatches[0].patch.value.name'],
    ['descriptors', (y: string) => y.replace('              stat_prefix:', '              descriptors: [{entries: [{key: client, value: a}], token_bucket: {max_tokens: 1, fill_interval: 1s}}]\n              stat_prefix:'), 'spec.configPatches[0].patch.value.typed_config.value.descriptors'],
    ['operation MERGE', (y: string) => y.replace('operation: INSERT_BEFORE', 'operation: MERGE'), 'spec.configPatches[0].patch.operation'],
    ['context SIDECAR_OUTBOUND', (y: string) => y.replace('context: GATEWAY', 'context: SIDECAR_OUTBOUND'), 'spec.configPatches[0].match.context'],
  ])('%s → ML0003 at its path', (_n, edit, path) => {
    const m = messages(edit(ISTIO_TASK()));
    expect(m.map((x) => [x.code, x.path])).toEqual([['ML0003', path]]);
    expect(m[0].message).toMatch(/not supported by meshlab|only|must match/);
  });

  test('fill_interval under 50 ms is Envoy\'s own rejection (IST0106)', () => {
    expect(messages(ISTIO_TASK(10, 1, '10ms')).map((m) => [m.code, m.path])).toEqual([['IST0106', 'spec.configPatches[0].patch.value.typed_config.value.token_bucket.fill_interval']]);
  });
});

describe('the local rate limit at an in-process gateway', () => {
  let apps: Awaited<ReturnType<typeof startApps>>;
  let g: Sidecar;
  beforeAll(async () => {
    apps = await startApps();
    g = await startGateway();
  });
  afterAll(async () => {
    await g.stop(0);
    closeAgent();
    await apps.stop();
  });

  test('max_tokens 5, one fill an hour: of 12 requests 5 reach orders and 7 get 429 local_rate_limited with x-local-rate-limit: true, flag RL in the access log and in istio_requests_total; a push of endpoints does not refill the bucket', async () => {
    const yaml = `${ISTIO_TASK(5, 5, '3600s')}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: orders}}]
`;
    push(g, yaml, apps.endpoints);
    const before = apps.orders.seen.length;
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await call(g.ports.outbound, '/orders/1'));
    push(g, yaml, apps.endpoints); // a new snapshot, same EnvoyFilter
    for (let i = 0; i < 2; i++) answers.push(await call(g.ports.outbound, '/orders/1'));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    expect(answers[5]).toMatchObject({ body: 'local_rate_limited', headers: { 'x-envoy-ratelimited': 'true', 'x-local-rate-limit': 'true' } });
    expect(apps.orders.seen.length - before).toBe(5);
    const log = g.accessLog.entries(12);
    expect(log.filter((e) => e.response_flags === 'RL').length).toBe(7);
    expect(log.find((e) => e.response_flags === 'RL')).toMatchObject({ response_code: 429, response_code_details: 'local_rate_limited' });
    expect(metric(await g.stats.registry.metrics(), 'istio_requests_total', { response_flags: 'RL', response_code: '429' })).toBe(7);
    expect(g.filters.http?.rateLimiter?.counters).toEqual({ enabled: 12, enforced: 7, rateLimited: 7, ok: 5 });
    // Envoy's http_local_rate_limit stats, on the gateway's /metrics.
    const text = await g.stats.registry.metrics();
    const rl = (outcome: string) => metric(text, 'meshlab_local_rate_limit_total', { listener: 'http', stat_prefix: 'http_local_rate_limiter', outcome });
    expect([rl('enabled'), rl('rate_limited'), rl('enforced'), rl('ok')]).toEqual([12, 7, 7, 5]);
  });
});
