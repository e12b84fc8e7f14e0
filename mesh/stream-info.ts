import type { UpstreamHost } from './upstream-host';

/**
 * Everything known about one request as it crosses a listener: what the access log and the
 * metrics report when it completes (Envoy's StreamInfo).
 */
export class StreamInfo {
  readonly startNs = process.hrtime.bigint();
  readonly startTime = Date.now();
  requestId = '';
  method = '';
  path = '';
  authority = '';
  /** The service the request is for (outbound: from Host; inbound: this sidecar's service). */
  destinationService = '';
  sourceWorkload = 'unknown';
  sourceVersion = 'unknown';
  sourcePrincipal = 'unknown';
  destinationPrincipal = 'unknown';
  connectionSecurityPolicy = 'unknown';
  routeName = '-';
  cluster = '-';
  upstream?: UpstreamHost;
  status = 0;
  flags: string[] = [];
  bytesReceived = 0;
  bytesSent = 0;
  attempts = 0;
  durationUs = 0;
  /** W3C trace context of this hop's span. */
  traceId = '';
  spanId = '';
  parentSpanId: string | null = null;
  /** The span reuses the caller's id (an inbound hop's SERVER half, Envoy's shared_span_context). */
  sharedSpan = false;
  /** Sampled spans are exported (mesh/telemetry). */
  sampled = false;
  /** The other side of this hop (inbound: the downstream address; outbound: the upstream host's), Istio's `peer.address`. */
  peerAddress = '';

  constructor(readonly direction: 'inbound' | 'outbound') {}

  flag(f: string): void {
    if (!this.flags.includes(f)) this.flags.push(f);
  }

  get responseFlags(): string {
    return this.flags.length === 0 ? '-' : this.flags.join(',');
  }

  finish(): void {
    this.durationUs = Number(process.hrtime.bigint() - this.startNs) / 1000;
  }
}
