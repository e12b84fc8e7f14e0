/**
 * Schema of Istio's Telemetry (telemetry.istio.io/v1) as meshlab runs it, field by field against the CRD in
 * istio/istio manifests/charts/base/files/crd-all.gen.yaml and Istio's ValidateTelemetry (pkg/config/validation):
 *
 * - selector.matchLabels: which workloads (none: the whole namespace; in istio-system, the whole mesh).
 * - tracing (one entry): randomSamplingPercentage, disableSpanReporting, customTags literal / header / environment.
 * - accessLogging (one entry): disabled.
 *
 * Everything else Istio accepts (targetRef(s), providers, match.mode, filter.expression, formatter tags,
 * useRequestIdForTraceSampling, enableIstioTags, disableContextPropagation, metrics) is ML0003 naming the field;
 * Istio's own rejections (empty names, empty literal values, a percentage outside 0–100) are IST0106.
 */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { anyStr, arr, bool, dur, map, num, obj, oneOfEnum, str, type Check, type Rule } from './dsl';
import { labels } from './common';

const S = Codes.SchemaValidationError;
const U = Codes.UnsupportedField;

const PROVIDERS = "meshlab has no meshConfig extensionProviders: spans go to the proxy's own Zipkin/OTLP collector (ProxyConfig tracing, OTEL_EXPORTER_OTLP_ENDPOINT), access logs to its log file";
const MODE = 'a Telemetry entry applies to client and server sides alike in meshlab';

/** Istio's validateTelemetryProviders: every provider has a name. */
const providers: Rule = arr(obj({ name: anyStr }, { check: (v: Record<string, unknown>, path, r) => v.name === undefined || v.name === '' ? r.report(S, joinPath(path, 'name'), `${joinPath(path, 'name')}: providers.name may not be empty`) : undefined }));
const workloadMode = obj({ mode: oneOfEnum(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']) });

const selector: Rule = obj(
  { matchLabels: labels },
  {
    check: (v: Record<string, unknown>, path, r) => {
      const m = v.matchLabels;
      if (m === null || typeof m !== 'object') return;
      for (const [k, x] of Object.entries(m as Record<string, unknown>)) {
        const p = joinPath(joinPath(path, 'matchLabels'), k);
        if (k === '') r.report(S, p, `${p}: key must not be empty`);
        if (k.includes('*')) r.report(S, p, `${p}: wildcard not allowed in label key match`);
        if (typeof x === 'string' && x.includes('*')) r.report(S, p, `${p}: wildcard not allowed in label value match`);
      }
    },
  },
);

const customTag: Rule = obj(
  {
    literal: obj({ value: anyStr }),
    header: obj({ name: anyStr, defaultValue: anyStr }),
    environment: obj({ name: anyStr, defaultValue: anyStr }),
  },
  {
    unsupported: { formatter: 'supported tag kinds: literal, header, environment' },
    unsupportedRules: { formatter: obj({ value: anyStr }) },
    check: (v: Record<string, unknown>, path, r) => {
      const kinds = ['literal', 'header', 'environment', 'formatter'].filter((k) => v[k] !== undefined && v[k] !== null);
      if (kinds.length > 1) r.report(S, path, `${path}: only one of literal, header, environment, formatter may be set, got ${kinds.join(' and ')}`);
      const sub = (k: string): Record<string, unknown> | undefined => (typeof v[k] === 'object' && v[k] !== null ? (v[k] as Record<string, unknown>) : undefined);
      // Istio's messages (validateTelemetryTracing).
      const lit = sub('literal');
      if (lit && !lit.value) r.report(S, joinPath(path, 'literal.value'), `${joinPath(path, 'literal.value')}: literal tag value may not be empty`);
      const header = sub('header');
      if (header && !header.name) r.report(S, joinPath(path, 'header.name'), `${joinPath(path, 'header.name')}: header tag name may not be empty`);
      const env = sub('environment');
      if (env && !env.name) r.report(S, joinPath(path, 'environment.name'), `${joinPath(path, 'environment.name')}: environment tag name may not be empty`);
    },
  },
);

const customTags: Rule = map(customTag, (v: Record<string, unknown>, path, r) => {
  if ('' in v) r.report(S, joinPath(path, ''), `${path}: tag name may not be empty`);
});

const tracing: Rule = obj(
  {
    randomSamplingPercentage: num(0, 100),
    disableSpanReporting: bool,
    customTags,
  },
  {
    unsupported: {
      providers: PROVIDERS,
      match: MODE,
      useRequestIdForTraceSampling: "meshlab samples by its own random draw (Envoy's default with Istio's x-request-id is the same percentage)",
      enableIstioTags: "Istio's tags are always on the spans",
      disableContextPropagation: 'trace headers are always propagated',
    },
    unsupportedRules: { providers, match: workloadMode },
  },
);

const accessLogging: Rule = obj(
  { disabled: bool },
  {
    unsupported: {
      filter: 'access-log filters (CEL expressions) are not evaluated by meshlab; use disabled to turn the log off',
      providers: PROVIDERS,
      match: MODE,
    },
    unsupportedRules: { filter: obj({ expression: anyStr }), providers, match: workloadMode },
  },
);

/** Istio's metrics rules, checked though meshlab does not run them (IST0106 where Istio rejects). */
const tagOverride: Rule = obj(
  { operation: oneOfEnum(['UPSERT', 'REMOVE']), value: anyStr },
  {
    check: (v: Record<string, unknown>, path, r) => {
      if ((v.operation ?? 'UPSERT') === 'UPSERT' && !v.value) r.report(S, path, `${path}: tagOverrides.value must be set when operation is UPSERT`);
      if (v.operation === 'REMOVE' && v.value) r.report(S, path, `${path}: tagOverrides.value may only be set when operation is UPSERT`);
    },
  },
);
const METRICS = ['ALL_METRICS', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES', 'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES'];
const metrics: Rule = arr(
  obj({
    providers,
    reportingInterval: dur({ minMs: 1 }),
    overrides: arr(obj({ match: obj({ metric: oneOfEnum(METRICS), customMetric: str(), mode: oneOfEnum(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']) }), disabled: bool, tagOverrides: map(tagOverride) })),
  }),
);

/** Istio warns about a second entry ("multiple tracing is not currently supported"); meshlab runs one. */
const oneEntry =
  (what: string): Check =>
  (v: unknown[], path, r) => {
    for (let i = 1; i < v.length; i++) r.report(U, joinPath(path, i), `${joinPath(path, i)}: valid Istio, not supported by meshlab (one ${what} entry per Telemetry; Istio also warns "multiple ${what} is not currently supported")`);
  };

export const telemetrySpec: Rule = obj(
  {
    selector,
    tracing: arr(tracing, oneEntry('tracing')),
    accessLogging: arr(accessLogging, oneEntry('accessLogging')),
  },
  {
    unsupported: {
      targetRef: 'meshlab selects workloads with selector.matchLabels',
      targetRefs: 'meshlab selects workloads with selector.matchLabels',
      metrics: "Istio's standard metrics are always reported by meshlab's sidecars; overrides, providers and reportingInterval are not run",
    },
    unsupportedRules: { metrics },
    check: (v: Record<string, unknown>, path, r) => {
      const set = ['selector', 'targetRef', 'targetRefs'].filter((k) => v[k] !== undefined && v[k] !== null);
      if (set.length > 1) r.report(S, path, `${path}: only one of targetRefs or selector can be set`);
    },
  },
);
