/**
 * The one EnvoyFilter shape meshlab runs: Istio's "Enabling Rate Limits using Envoy" local rate limit — a
 * single HTTP_FILTER patch (match context SIDECAR_INBOUND or GATEWAY, listener filterChain filter
 * envoy.filters.network.http_connection_manager, optionally subFilter envoy.filters.http.router),
 * operation INSERT_BEFORE (or INSERT_FIRST), value envoy.filters.http.local_ratelimit with its config as a
 * TypedStruct (`type_url` …LocalRateLimit) or typed directly (`@type` …LocalRateLimit). Everything else an
 * EnvoyFilter can say is reported by path (ML0003 in the schema), never ignored. Pure: used by the schema
 * check and by the sidecars.
 */
import { parseDuration } from '../config/duration';
import type { LocalRateLimitSpec } from './local-ratelimit';

export const LOCAL_RATELIMIT = 'envoy.filters.http.local_ratelimit';
export const HCM = 'envoy.filters.network.http_connection_manager';
const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const TYPED_STRUCTS = ['type.googleapis.com/udpa.type.v1.TypedStruct', 'type.googleapis.com/xds.type.v3.TypedStruct'];

export interface EnvoyFilterProblem {
  path: string;
  message: string;
  /** true: valid Istio/Envoy that meshlab does not run (ML0003); false: wrong as written (IST0106). */
  unsupported: boolean;
}

export interface CompiledEnvoyFilter {
  context: 'SIDECAR_INBOUND' | 'GATEWAY';
  workloadLabels?: Record<string, string>;
  rateLimit: LocalRateLimitSpec;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function percentOf(v: unknown, path: string, problems: EnvoyFilterProblem[]): number {
  if (v === undefined) return 0; // Envoy: an unset filter_enabled / filter_enforced is 0 %
  if (!isObj(v)) {
    problems.push({ path, message: 'must be a RuntimeFractionalPercent {runtime_key, default_value: {numerator, denominator}}', unsupported: false });
    return 0;
  }
  for (const k of Object.keys(v)) if (k !== 'runtime_key' && k !== 'default_value') problems.push({ path: `${path}.${k}`, message: `${k} is not a RuntimeFractionalPercent field`, unsupported: false });
  const d = v.default_value;
  if (!isObj(d)) return 0;
  const num = typeof d.numerator === 'number' ? d.numerator : 0;
  const den = d.denominator ?? 'HUNDRED';
  const scale = den === 'HUNDRED' ? 100 : den === 'TEN_THOUSAND' ? 10_000 : den === 'MILLION' ? 1_000_000 : NaN;
  if (Number.isNaN(scale)) {
    problems.push({ path: `${path}.default_value.denominator`, message: `denominator must be HUNDRED, TEN_THOUSAND or MILLION, got ${JSON.stringify(den)}`, unsupported: false });
    return 0;
  }
  return Math.min(100, (num / scale) * 100);
}

function readLocalRateLimit(c: Record<string, unknown>, path: string, problems: EnvoyFilterProblem[]): LocalRateLimitSpec {
  const known = ['stat_prefix', 'token_bucket', 'filter_enabled', 'filter_enforced', 'response_headers_to_add'];
  for (const k of Object.keys(c)) {
    if (known.includes(k)) continue;
    problems.push({ path: `${path}.${k}`, message: k === 'descriptors' ? 'descriptors (per-descriptor token buckets, which need route rate_limits actions) are not supported by meshlab; use one token_bucket' : `LocalRateLimit field ${k} is not supported by meshlab (supported: ${known.join(', ')})`, unsupported: true });
  }
  if (typeof c.stat_prefix !== 'string' || c.stat_prefix === '') problems.push({ path: `${path}.stat_prefix`, message: 'stat_prefix is required', unsupported: false });
  const tb = isObj(c.token_bucket) ? c.token_bucket : {};
  if (!isObj(c.token_bucket)) problems.push({ path: `${path}.token_bucket`, message: 'token_bucket {max_tokens, tokens_per_fill, fill_interval} is required', unsupported: false });
  for (const k of Object.keys(tb)) if (!['max_tokens', 'tokens_per_fill', 'fill_interval'].includes(k)) problems.push({ path: `${path}.token_bucket.${k}`, message: `${k} is not a TokenBucket field`, unsupported: false });
  const maxTokens = tb.max_tokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) problems.push({ path: `${path}.token_bucket.max_tokens`, message: 'max_tokens must be an integer ≥ 1', unsupported: false });
  const perFill = tb.tokens_per_fill ?? 1;
  if (typeof perFill !== 'number' || !Number.isInteger(perFill) || perFill < 1) problems.push({ path: `${path}.token_bucket.tokens_per_fill`, message: 'tokens_per_fill must be an integer ≥ 1', unsupported: false });
  let fillMs = 0;
  try {
    fillMs = parseDuration(String(tb.fill_interval ?? ''));
  } catch {
    problems.push({ path: `${path}.token_bucket.fill_interval`, message: `fill_interval must be a duration such as 1s, got ${JSON.stringify(tb.fill_interval)}`, unsupported: false });
  }
  // Envoy: "fill_interval must be >= 50ms" for the local rate limiter.
  if (fillMs > 0 && fillMs < 50) problems.push({ path: `${path}.token_bucket.fill_interval`, message: 'fill_interval must be at least 50ms (Envoy)', unsupported: false });
  const responseHeaders: Record<string, string> = {};
  const rh = c.response_headers_to_add;
  if (rh !== undefined && !Array.isArray(rh)) problems.push({ path: `${path}.response_headers_to_add`, message: 'must be a list of {header: {key, value}}', unsupported: false });
  (Array.isArray(rh) ? rh : []).forEach((h: unknown, i) => {
    const hp = `${path}.response_headers_to_add[${i}]`;
    const header = isObj(h) && isObj(h.header) ? h.header : undefined;
    if (!header || typeof header.key !== 'string' || typeof header.value !== 'string') return problems.push({ path: hp, message: 'must be {header: {key, value}} with string key and value', unsupported: false });
    for (const k of Object.keys(h as object)) if (!['header', 'append', 'append_action'].includes(k)) problems.push({ path: `${hp}.${k}`, message: `${k} is not supported here (header, append, append_action)`, unsupported: true });
    responseHeaders[header.key.toLowerCase()] = header.value;
  });
  return {
    statPrefix: typeof c.stat_prefix === 'string' ? c.stat_prefix : '',
    tokenBucket: { maxTokens: Number(maxTokens) || 1, tokensPerFill: Number(perFill) || 1, fillIntervalMs: fillMs || 1000 },
    enabledPercent: percentOf(c.filter_enabled, `${path}.filter_enabled`, problems),
    enforcedPercent: percentOf(c.filter_enforced, `${path}.filter_enforced`, problems),
    responseHeaders,
  };
}

/** Reads an EnvoyFilter spec: the compiled local rate limit, or the problems that stop it (paths from `spec`). */
export function readEnvoyFilter(spec: unknown): { filter?: CompiledEnvoyFilter; problems: EnvoyFilterProblem[] } {
  const problems: EnvoyFilterProblem[] = [];
  const un = (path: string, message: string): void => void problems.push({ path, message, unsupported: true });
  const bad = (path: string, message: string): void => void problems.push({ path, message, unsupported: false });
  const s = isObj(spec) ? spec : {};
  for (const k of Object.keys(s)) {
    if (k === 'targetRefs') un(`spec.${k}`, 'targetRefs is not supported by meshlab; use workloadSelector');
    else if (k === 'priority') un(`spec.${k}`, 'priority is not supported by meshlab (one EnvoyFilter patch per workload)');
    else if (k !== 'workloadSelector' && k !== 'configPatches') bad(`spec.${k}`, `unknown field ${k}`);
  }
  const sel = isObj(s.workloadSelector) ? s.workloadSelector : undefined;
  const labels = sel && isObj(sel.labels) ? Object.fromEntries(Object.entries(sel.labels).map(([k, v]) => [k, String(v)])) : undefined;
  const patches = Array.isArray(s.configPatches) ? s.configPatches : [];
  if (patches.length !== 1) {
    un('spec.configPatches', `meshlab runs exactly one patch per EnvoyFilter, the local rate limit of Istio's "Enabling Rate Limits using Envoy" task (found ${patches.length})`);
    if (patches.length === 0) return { problems };
  }
  const p = isObj(patches[0]) ? patches[0] : {};
  const at = 'spec.configPatches[0]';
  if (p.applyTo !== 'HTTP_FILTER') un(`${at}.applyTo`, `applyTo ${JSON.stringify(p.applyTo)} is not supported by meshlab; only HTTP_FILTER (the local rate limit filter)${p.applyTo === 'HTTP_ROUTE' ? ' — per-route limits (typed_per_filter_config) are not run' : ''}`);
  const match = isObj(p.match) ? p.match : {};
  const context = match.context;
  if (context !== 'SIDECAR_INBOUND' && context !== 'GATEWAY') un(`${at}.match.context`, `context ${JSON.stringify(context)} is not supported by meshlab (SIDECAR_INBOUND, GATEWAY)`);
  for (const k of Object.keys(match)) if (k !== 'context' && k !== 'listener') un(`${at}.match.${k}`, `match.${k} is not supported by meshlab (context, listener.filterChain.filter)`);
  const listener = isObj(match.listener) ? match.listener : {};
  for (const k of Object.keys(listener)) if (k !== 'filterChain') un(`${at}.match.listener.${k}`, `listener.${k} is not supported by meshlab (filterChain.filter only)`);
  const chain = isObj(listener.filterChain) ? listener.filterChain : {};
  for (const k of Object.keys(chain)) if (k !== 'filter') un(`${at}.match.listener.filterChain.${k}`, `filterChain.${k} is not supported by meshlab`);
  const f = isObj(chain.filter) ? chain.filter : {};
  if (f.name !== HCM) un(`${at}.match.listener.filterChain.filter.name`, `the patch must match filter ${HCM}`);
  if (f.subFilter !== undefined && !(isObj(f.subFilter) && f.subFilter.name === 'envoy.filters.http.router' && Object.keys(f.subFilter).length === 1)) un(`${at}.match.listener.filterChain.filter.subFilter`, 'only subFilter {name: envoy.filters.http.router} is supported');
  const patch = isObj(p.patch) ? p.patch : {};
  if (patch.operation !== 'INSERT_BEFORE' && patch.operation !== 'INSERT_FIRST') un(`${at}.patch.operation`, `operation ${JSON.stringify(patch.operation)} is not supported by meshlab (INSERT_BEFORE, INSERT_FIRST)`);
  for (const k of Object.keys(patch)) if (k !== 'operation' && k !== 'value') un(`${at}.patch.${k}`, `patch.${k} is not supported by meshlab`);
  const value = isObj(patch.value) ? patch.value : {};
  if (value.name !== LOCAL_RATELIMIT) un(`${at}.patch.value.name`, `filter ${JSON.stringify(value.name)} is not supported by meshlab; only ${LOCAL_RATELIMIT}`);
  for (const k of Object.keys(value)) if (k !== 'name' && k !== 'typed_config') un(`${at}.patch.value.${k}`, `${k} is not supported by meshlab (name, typed_config)`);
  const tc = isObj(value.typed_config) ? value.typed_config : {};
  let config: Record<string, unknown> = {};
  let cpath = `${at}.patch.value.typed_config`;
  if (TYPED_STRUCTS.includes(String(tc['@type']))) {
    if (tc.type_url !== TYPE) un(`${cpath}.type_url`, `type_url must be ${TYPE}`);
    config = isObj(tc.value) ? tc.value : {};
    cpath = `${cpath}.value`;
  } else if (tc['@type'] === TYPE) {
    config = Object.fromEntries(Object.entries(tc).filter(([k]) => k !== '@type'));
  } else un(`${cpath}.@type`, `@type must be ${TYPE} (or a TypedStruct with that type_url)`);
  if (problems.length > 0) return { problems };
  const rateLimit = readLocalRateLimit(config, cpath, problems);
  if (problems.length > 0) return { problems };
  return { filter: { context: context as 'SIDECAR_INBOUND' | 'GATEWAY', workloadLabels: labels, rateLimit }, problems };
}
