import fs from 'node:fs';
import type { StreamInfo } from './stream-info';

export interface AccessLogEntry {
  start_time: string;
  direction: 'inbound' | 'outbound';
  method: string;
  path: string;
  authority: string;
  response_code: number;
  response_flags: string;
  bytes_received: number;
  bytes_sent: number;
  /** Total duration in ms with µs precision (Envoy's %DURATION% is whole ms; a sidecar hop is a tenth of one). */
  duration_ms: number;
  upstream_cluster: string;
  upstream_host: string;
  upstream_instance: string;
  route_name: string;
  x_request_id: string;
  attempts: number;
  source_workload: string;
  source_principal: string;
  destination_principal: string;
}

/**
 * One JSON line per request (Envoy's JSON access log, with its response flags). Lines are batched
 * and written asynchronously so logging never blocks the request path; the newest entries are kept
 * in memory for the admin endpoint and tests.
 */
export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;
  /** The newest `keep` entries, as a ring (no shifting on the request path). */
  private readonly recent: AccessLogEntry[] = [];
  private next = 0;

  constructor(
    private readonly fd: number = 1,
    private readonly keep = 5000,
  ) {}

  log(info: StreamInfo): void {
    const entry: AccessLogEntry = {
      start_time: new Date(info.startTime).toISOString(),
      direction: info.direction,
      method: info.method,
      path: info.path,
      authority: info.authority,
      response_code: info.status,
      response_flags: info.responseFlags,
      bytes_received: info.bytesReceived,
      bytes_sent: info.bytesSent,
      duration_ms: Math.round(info.durationUs) / 1000,
      upstream_cluster: info.cluster,
      upstream_host: info.upstream?.key ?? '-',
      upstream_instance: info.upstream?.instance ?? '-',
      route_name: info.routeName,
      x_request_id: info.requestId,
      attempts: info.attempts,
      source_workload: info.sourceWorkload,
      source_principal: info.sourcePrincipal,
      destination_principal: info.destinationPrincipal,
    };
    if (this.recent.length < this.keep) this.recent.push(entry);
    else this.recent[this.next] = entry;
    this.next = (this.next + 1) % this.keep;
    this.pending.push(JSON.stringify(entry));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** The newest `limit` entries, oldest first. */
  entries(limit = this.keep): AccessLogEntry[] {
    const ordered = this.recent.length < this.keep ? this.recent : [...this.recent.slice(this.next), ...this.recent.slice(0, this.next)];
    return ordered.slice(-limit);
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    if (this.fd < 0) {
      // Memory only (tests, benchmarks): no file to write.
      this.pending = [];
      return;
    }
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    fs.write(this.fd, text, () => undefined);
  }
}
