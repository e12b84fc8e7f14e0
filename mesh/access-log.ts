import fs from 'node:fs';
import type { StreamInfo } from './stream-info';
import { JsonBytes, fragment } from './telemetry/json-bytes';

/**
 * One line of the access log: first the fields of Istio's JSON access log (EnvoyJSONLogFormatIstio) that a
 * sidecar of this lab can fill, under Istio's names; then meshlab's extras. Istio fields left out: no TCP/L4
 * (connection_termination_details, requested_server_name) and no addresses (x_forwarded_for,
 * upstream_local_address, downstream_*_address). An empty value is "-" (Envoy's JSON format writes null).
 */
export interface AccessLogEntry {
  start_time: string;
  route_name: string;
  method: string;
  path: string;
  /** %PROTOCOL%: the downstream protocol (HTTP/1.1 here). */
  protocol: string;
  response_code: number;
  response_flags: string;
  /** %RESPONSE_CODE_DETAILS%: via_upstream, route_not_found, rbac_access_denied_matched_policy[...]… */
  response_code_details: string;
  bytes_received: number;
  bytes_sent: number;
  /** %DURATION%: whole milliseconds, as Envoy logs it. */
  duration: number;
  /** %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%: ms from the last attempt's start to its response headers, or "-". */
  upstream_service_time: string;
  user_agent: string;
  request_id: string;
  authority: string;
  upstream_host: string;
  upstream_cluster: string;
  /** %UPSTREAM_TRANSPORT_FAILURE_REASON%: why the connect failed (`delayed connect error: Connection refused`), or "-". */
  upstream_transport_failure_reason: string;
  // ---- meshlab's extras, after Istio's ----
  direction: 'inbound' | 'outbound';
  /** Total duration in ms with µs precision (Envoy's %DURATION% is whole ms; a sidecar hop is a tenth of one). */
  duration_ms: number;
  upstream_instance: string;
  /** The same value as request_id (kept for existing readers). */
  x_request_id: string;
  attempts: number;
  source_workload: string;
  source_principal: string;
  destination_principal: string;
}

/** Pending lines are written when this much time has passed since the first of them… */
export const ACCESS_LOG_FLUSH_MS = 100;
/** …or as soon as this many characters are pending, whichever comes first. */
export const ACCESS_LOG_FLUSH_CHARS = 64 * 1024;
/** Bytes of the line ring per kept entry (a line is ~650 bytes; longer paths take more, then fewer lines are kept). */
const RING_BYTES_PER_ENTRY = 1024;

/**
 * One JSON line per request (Envoy's JSON access log, with its response flags). Each line is
 * written, as bytes, into one ring buffer allocated once: the newest `keep` lines stay there for the
 * admin endpoint and tests (`entries()` parses them when asked), and the lines not yet written out
 * are a region of the same buffer, written every 100 ms (or at 64 KiB) with one synchronous write:
 * per-request async writes cost a libuv thread-pool round trip each, far more than the request
 * itself. Nothing of a request stays on the JS heap once it is logged (the ring used to keep an
 * entry object per request: 1.1 MB of heap per 5,000, and 8 MB of a sidecar's RSS in the bench). `flush()`
 * (called on stop) writes whatever is pending.
 */
export class AccessLog {
  private timer: NodeJS.Timeout | undefined;
  private ring: Buffer | undefined;
  /** Per kept line (a ring of `keep` slots): its byte range in `ring`. */
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** Slot of the oldest kept line, and how many are kept. */
  private first = 0;
  private count = 0;
  /** Where the next line's bytes go, and where the bytes not yet written to `fd` begin. */
  private writeOff = 0;
  private flushedOff = 0;
  /** toISOString of the last start time seen: requests in the same millisecond share it. */
  private isoMs = NaN;
  private iso = '';
  /** Where each line is encoded before it is copied into the ring (reused; a line of a huge path grows it for that line only). */
  private readonly line = new JsonBytes(4096, 64 * 1024);
  /** Telemetry API `accessLogging: [{disabled: true}]` for this workload: no entry is written or kept. */
  disabled = false;

  constructor(
    private readonly fd: number = 1,
    private readonly keep = 5000,
  ) {
    this.starts = new Int32Array(keep);
    this.ends = new Int32Array(keep);
  }

  log(info: StreamInfo): void {
    if (this.disabled) return;
    if (info.startTime !== this.isoMs) {
      this.isoMs = info.startTime;
      this.iso = new Date(info.startTime).toISOString();
    }
    this.add(entryOf(info, this.iso));
  }

  /** An entry built elsewhere: a TCP connection's (mesh/tcp/tcp-proxy.ts), in the same fields. */
  logEntry(entry: AccessLogEntry): void {
    if (this.disabled) return;
    this.add(entry);
  }

  private add(entry: AccessLogEntry): void {
    const line = this.line;
    line.reset();
    encodeAccessLogLine(line, entry);
    this.append(line.view());
    if (this.fd < 0) {
      this.flushedOff = this.writeOff; // memory only (tests, benchmarks): nothing to write out
      return;
    }
    if (this.writeOff - this.flushedOff >= ACCESS_LOG_FLUSH_CHARS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), ACCESS_LOG_FLUSH_MS);
      this.timer.unref();
    }
  }

  /** The line's bytes into the ring (wrapping to its start, pending bytes written out first), oldest lines dropped as overwritten. */
  private append(line: Buffer): void {
    const ring = (this.ring ??= Buffer.allocUnsafeSlow(Math.max(this.keep * RING_BYTES_PER_ENTRY, 2 * ACCESS_LOG_FLUSH_CHARS)));
    if (line.length > ring.length - this.writeOff) {
      if (line.length > ring.length) {
        // Larger than the whole ring (a path of megabytes): written out, not kept.
        this.flush();
        if (this.fd >= 0) writeAll(this.fd, line, true);
        return;
      }
      this.flush();
      this.writeOff = this.flushedOff = 0;
    }
    const start = this.writeOff;
    const end = start + line.copy(ring, start);
    this.writeOff = end;
    // Drop the oldest lines whose bytes this one overwrote, and the oldest beyond `keep`.
    while (this.count > 0 && (this.count === this.keep || (this.starts[this.first] < end && this.ends[this.first] > start))) {
      this.first = (this.first + 1) % this.keep;
      this.count--;
    }
    const slot = (this.first + this.count) % this.keep;
    this.starts[slot] = start;
    this.ends[slot] = end;
    this.count++;
  }

  /** The newest `limit` entries, oldest first. */
  entries(limit = this.keep): AccessLogEntry[] {
    const out: AccessLogEntry[] = [];
    const ring = this.ring;
    if (!ring) return out;
    for (let k = Math.max(0, this.count - limit); k < this.count; k++) {
      const slot = (this.first + k) % this.keep;
      out.push(JSON.parse(ring.toString('utf8', this.starts[slot], this.ends[slot])) as AccessLogEntry);
    }
    return out;
  }

  /** Writes every pending line now (one synchronous write). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writeOff === this.flushedOff || !this.ring) return;
    const from = this.flushedOff;
    this.flushedOff = this.writeOff;
    if (this.fd >= 0) writeAll(this.fd, this.ring.subarray(from, this.writeOff), true);
  }
}

/** The access log entry of a finished request (`iso`: its start time as toISOString). */
function entryOf(info: StreamInfo, iso: string): AccessLogEntry {
  return {
    start_time: iso,
    route_name: info.routeName,
    method: info.method,
    path: info.originalPath || info.path,
    protocol: 'HTTP/1.1',
    response_code: info.status,
    response_flags: info.responseFlags,
    response_code_details: info.responseCodeDetails || '-',
    bytes_received: info.bytesReceived,
    bytes_sent: info.bytesSent,
    duration: Math.floor(info.durationUs / 1000),
    upstream_service_time: info.upstreamServiceTimeMs < 0 ? '-' : String(info.upstreamServiceTimeMs),
    user_agent: info.userAgent || '-',
    request_id: info.requestId,
    authority: info.authority,
    upstream_host: info.upstream?.key ?? '-',
    upstream_cluster: info.cluster,
    upstream_transport_failure_reason: info.upstreamTransportFailureReason || '-',
    direction: info.direction,
    duration_ms: Math.round(info.durationUs) / 1000,
    upstream_instance: info.upstream?.instance ?? '-',
    x_request_id: info.requestId,
    attempts: info.attempts,
    source_workload: info.sourceWorkload,
    source_principal: info.sourcePrincipal,
    destination_principal: info.destinationPrincipal,
  };
}

/** The line's keys in Istio's order, then meshlab's extras: JSON.stringify's order for an entryOf() object. */
const KEYS: readonly (keyof AccessLogEntry)[] = [
  'start_time', 'route_name', 'method', 'path', 'protocol', 'response_code', 'response_flags', 'response_code_details',
  'bytes_received', 'bytes_sent', 'duration', 'upstream_service_time', 'user_agent', 'request_id', 'authority',
  'upstream_host', 'upstream_cluster', 'upstream_transport_failure_reason', 'direction', 'duration_ms', 'upstream_instance',
  'x_request_id', 'attempts', 'source_workload', 'source_principal', 'destination_principal',
];
/** Each key with what precedes it (`{` or `,`) and its colon, encoded once. */
const KEY_BYTES = KEYS.map((k, i) => fragment(`${i === 0 ? '{' : ','}"${k}":`));
const END = fragment('}\n');

/**
 * The entry as one JSON line, written as UTF-8 into `w`: byte for byte what JSON.stringify(entry) + '\n' gives for an
 * entry with its keys in KEYS' order (same escapes, same number text). Written straight into bytes: a template string,
 * a regex test per field and a UTF-8 encode of the line cost a sidecar about a third of its per-request CPU in
 * bench/profile.ts's samples.
 */
export function encodeAccessLogLine(w: JsonBytes, e: AccessLogEntry): void {
  for (let i = 0; i < KEYS.length; i++) {
    w.bytes(KEY_BYTES[i]);
    const v = e[KEYS[i]];
    if (typeof v === 'number') {
      if (!w.uint(v)) w.number(v);
    } else w.string(v);
  }
  w.bytes(END);
}

/** The entry's line as a string (tests, readers of one line). */
export function formatAccessLogLine(e: AccessLogEntry): string {
  const w = new JsonBytes(1024);
  encodeAccessLogLine(w, e);
  return w.view().toString('utf8');
}

/**
 * Writes all of `buf` to `fd` synchronously. A non-blocking pipe that is full (EAGAIN) gets the
 * rest asynchronously instead (a copy when `borrowed`: the ring is reused): the log must never
 * block or lose lines.
 */
function writeAll(fd: number, buf: Buffer, borrowed = false): void {
  let off = 0;
  try {
    while (off < buf.length) off += fs.writeSync(fd, buf, off);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
      const rest = borrowed ? Buffer.from(buf.subarray(off)) : buf.subarray(off);
      fs.write(fd, rest, 0, rest.length, null, () => undefined);
    }
    // Other errors (closed fd, EPIPE): the log is best-effort, like Envoy's when its sink is gone.
  }
}
