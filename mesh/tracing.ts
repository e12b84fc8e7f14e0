import { randomFillSync } from 'node:crypto';

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

/** Random hex ids from a refilled pool: one syscall per 256 ids instead of one per id. */
const POOL = Buffer.alloc(4096);
let poolPos = POOL.length;
function randomHex(bytes: number): string {
  if (poolPos + bytes > POOL.length) {
    randomFillSync(POOL);
    poolPos = 0;
  }
  const s = POOL.toString('hex', poolPos, poolPos + bytes);
  poolPos += bytes;
  return /^0+$/.test(s) ? randomHex(bytes) : s;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

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
