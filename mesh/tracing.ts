import { randomFillSync } from 'node:crypto';

/** Zipkin's span kinds (an OTLP kind of the same name). */
export type SpanKind = 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';

/** One hop as the sidecar saw it (the shape /traces returns). */
export interface Span {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  service: string;
  /** Start, ms since the epoch. */
  start: number;
  duration_us: number;
  status: number;
  attributes: Record<string, string | number>;
  /** CLIENT for an outbound (egress) hop, SERVER for an inbound one (Envoy's Zipkin tracer). */
  kind?: SpanKind;
  /** A SERVER span that reuses its caller's CLIENT span id (Envoy's shared_span_context, on by default). */
  shared?: boolean;
  /** Whether the trace was sampled: only sampled spans are exported. */
  sampled?: boolean;
  /** Linked spans (a consumer's link to its producer), OTLP links. */
  links?: { trace_id: string; span_id: string }[];
}

/** A parsed W3C traceparent (version 00). */
export interface TraceContext {
  traceId: string;
  parentId: string;
  flags: string;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX2 = /^[0-9a-f]{2}$/;

/**
 * Parses `traceparent` per W3C Trace Context: version-traceid-parentid-flags, lower-case hex,
 * all-zero ids invalid, version ff invalid; higher versions are read by their first four fields.
 */
export function parseTraceparent(value: string | string[] | undefined): TraceContext | undefined {
  if (typeof value !== 'string' || value.length < 55) return undefined;
  const parts = value.trim().split('-');
  if (parts.length < 4) return undefined;
  const [version, traceId, parentId, flags] = parts;
  if (!HEX2.test(version) || version === 'ff' || (version === '00' && parts.length !== 4)) return undefined;
  if (!HEX32.test(traceId) || traceId === '0'.repeat(32)) return undefined;
  if (!HEX16.test(parentId) || parentId === '0'.repeat(16)) return undefined;
  if (!HEX2.test(flags)) return undefined;
  return { traceId, parentId, flags };
}

export function formatTraceparent(traceId: string, spanId: string, flags = '01'): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

/** Random ids from a refilled pool: one syscall per 256 ids instead of one per id. */
const POOL = Buffer.alloc(4096);
let poolPos = POOL.length;

/** The offset in POOL of `bytes` fresh random bytes (refilling it when too few are left). */
function takeRandom(bytes: number): number {
  if (poolPos + bytes > POOL.length) {
    randomFillSync(POOL);
    poolPos = 0;
  }
  const at = poolPos;
  poolPos += bytes;
  return at;
}

function randomHex(bytes: number): string {
  const at = takeRandom(bytes);
  const s = POOL.toString('hex', at, at + bytes);
  return /^0+$/.test(s) ? randomHex(bytes) : s;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const UUID_TEXT = Buffer.alloc(36);

/**
 * A random (version 4) UUID for `x-request-id`, as Envoy's request id extension makes one: 122 random bits from the
 * pool, the version and variant bits set. What `crypto.randomUUID()` gives, except that it is one flat string:
 * Node builds randomUUID's from ~20 concatenated pieces (a cons string), which the span encoder's first `charCodeAt`
 * and every other reader then flatten, a runtime call and a copy each time.
 */
export function newRequestId(): string {
  const at = takeRandom(16);
  let o = 0;
  for (let i = 0; i < 16; i++) {
    let b = POOL[at + i];
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10xx (RFC 9562)
    if (i === 4 || i === 6 || i === 8 || i === 10) UUID_TEXT[o++] = 0x2d; // -
    UUID_TEXT[o++] = HEX_DIGITS[b >> 4];
    UUID_TEXT[o++] = HEX_DIGITS[b & 0xf];
  }
  return UUID_TEXT.toString('latin1', 0, 36);
}

/** The newest spans of this sidecar, in memory, served at the admin port's /traces. */
export class SpanRing {
  /** A ring: once full, `next` is the oldest slot and is overwritten (no shifting on the request path). */
  private readonly spans: Span[] = [];
  private next = 0;
  constructor(private readonly capacity = 2000) {}

  add(span: Span): void {
    if (this.spans.length < this.capacity) this.spans.push(span);
    else this.spans[this.next] = span;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest last; optionally only one trace. */
  list(limit = this.capacity, traceId?: string): Span[] {
    const ordered = this.spans.length < this.capacity ? this.spans : [...this.spans.slice(this.next), ...this.spans.slice(0, this.next)];
    const src = traceId ? ordered.filter((s) => s.trace_id === traceId) : ordered;
    return src.slice(-limit);
  }
}

/** The B3 headers of a request as received (Zipkin's multi-header form and the single `b3` header). */
export interface B3Headers {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  sampled?: string;
  flags?: string;
  single?: string;
}

/** The names `readRequestHead` collects into `B3Headers` (and keeps out of the upstream list: the sidecar sets its own). */
export const B3_HEADER_FIELDS: Readonly<Record<string, keyof B3Headers>> = {
  'x-b3-traceid': 'traceId',
  'x-b3-spanid': 'spanId',
  'x-b3-parentspanid': 'parentSpanId',
  'x-b3-sampled': 'sampled',
  'x-b3-flags': 'flags',
  b3: 'single',
};

/** A caller's trace context however it came (B3 or W3C): the caller's span id, its parent when B3 says, and the sampling decision if one was made. */
export interface IncomingContext {
  traceId?: string;
  /** The caller's span: our parent (egress) or our own id (ingress, shared span). */
  spanId?: string;
  /** The caller's parent (B3 only). */
  parentSpanId?: string;
  /** undefined = no decision yet (this proxy decides). */
  sampled?: boolean;
}

const HEX16_32 = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/** B3's sampled values: "1"/"0", and "true"/"false" as older tracers sent them. */
function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === '1' || v === 'true' || v === 'd') return true;
  if (v === '0' || v === 'false') return false;
  return undefined;
}

/** A 64-bit B3 trace id is the low half of a 128-bit one (Zipkin pads it on the left with zeros). */
const traceId128 = (id: string): string => (id.length === 16 ? `${'0'.repeat(16)}${id}` : id);

/**
 * Reads B3 as Envoy's Zipkin tracer does: the single `b3` header ("{trace}-{span}[-{sampled}[-{parent}]]"
 * or only "0"/"1"/"d") wins over the multi-header form; `x-b3-flags: 1` (debug) means sampled; a lone
 * sampling decision (no ids) is kept. Malformed ids are ignored (the request starts a new trace).
 */
export function parseB3(b3: B3Headers | undefined): IncomingContext | undefined {
  if (!b3) return undefined;
  if (b3.single !== undefined) {
    const parts = b3.single.trim().toLowerCase().split('-');
    if (parts.length === 1) return { sampled: b3Sampled(parts[0]) };
    const [trace, span, sampled, parent] = parts;
    if (!HEX16_32.test(trace) || !HEX16.test(span) || /^0+$/.test(trace) || /^0+$/.test(span)) return undefined;
    if (parent !== undefined && !HEX16.test(parent)) return undefined;
    return { traceId: traceId128(trace), spanId: span, parentSpanId: parent, sampled: b3Sampled(sampled) };
  }
  const sampled = b3.flags === '1' ? true : b3Sampled(b3.sampled);
  const trace = b3.traceId?.toLowerCase();
  const span = b3.spanId?.toLowerCase();
  if (trace === undefined || span === undefined || !HEX16_32.test(trace) || !HEX16.test(span) || /^0+$/.test(trace) || /^0+$/.test(span)) return sampled === undefined ? undefined : { sampled };
  const parent = b3.parentSpanId?.toLowerCase();
  return { traceId: traceId128(trace), spanId: span, parentSpanId: parent && HEX16.test(parent) ? parent : undefined, sampled };
}

/** B3 first (it carries the caller's parent and the decision explicitly), else W3C traceparent (sampled = flag bit 0). */
export function incomingContext(b3: B3Headers | undefined, traceparent: string | undefined): IncomingContext | undefined {
  const fromB3 = parseB3(b3);
  if (fromB3?.traceId) return fromB3;
  const tp = parseTraceparent(traceparent);
  if (tp) return { traceId: tp.traceId, spanId: tp.parentId, sampled: fromB3?.sampled ?? (parseInt(tp.flags, 16) & 1) === 1 };
  return fromB3;
}

/** The ids a hop's span gets (Envoy's Zipkin Tracer::startSpan). */
export interface HopIds {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  shared: boolean;
}

/**
 * Egress (a sidecar's outbound listener, the gateway) starts a child of the caller's span: new id, parent =
 * the caller's span. Ingress shares the caller's span (same id, same parent), so the CLIENT and SERVER halves of
 * one hop are one Zipkin span with `shared: true` on the server half. No context: a new trace, a root span.
 */
export function hopIds(ctx: IncomingContext | undefined, egress: boolean): HopIds {
  if (!ctx?.traceId || !ctx.spanId) return { traceId: newTraceId(), spanId: newSpanId(), parentSpanId: null, shared: false };
  if (egress) return { traceId: ctx.traceId, spanId: newSpanId(), parentSpanId: ctx.spanId, shared: false };
  return { traceId: ctx.traceId, spanId: ctx.spanId, parentSpanId: ctx.parentSpanId ?? null, shared: true };
}

/** Appends this hop's context to a flat upstream header list: W3C traceparent and Zipkin's B3 headers side by side. */
export function pushTraceHeaders(headers: string[], ids: HopIds, sampled: boolean): void {
  headers.push('traceparent', formatTraceparent(ids.traceId, ids.spanId, sampled ? '01' : '00'));
  headers.push('x-b3-traceid', ids.traceId, 'x-b3-spanid', ids.spanId, 'x-b3-sampled', sampled ? '1' : '0');
  if (ids.parentSpanId) headers.push('x-b3-parentspanid', ids.parentSpanId);
}
