import type { UpstreamHost } from './upstream-host';

/**
 * Envoy's CoreResponseFlag order (stream_info.h), which %RESPONSE_FLAGS% follows when a request has several:
 * the flags meshlab raises, in that order.
 */
const FLAG_ORDER: Readonly<Record<string, number>> = { UH: 1, UT: 2, LR: 3, UR: 4, UF: 5, UC: 6, UO: 7, NR: 8, DI: 9, FI: 10, DC: 14, URX: 15, UPE: 23 };

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
  /** x-envoy-original-path: the path before a route's rewrite, which the access log shows (Istio's %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%). */
  originalPath = '';
  authority = '';
  /** The service the request is for (outbound: from Host; inbound: this sidecar's service). */
  destinationService = '';
  sourceWorkload = 'unknown';
  sourceVersion = 'unknown';
  /** The calling workload's app (canonical service), from the peer header; inbound only. */
  sourceApp = 'unknown';
  /** The calling workload's namespace, from the peer header; inbound only. */
  sourceNamespace = 'unknown';
  sourcePrincipal = 'unknown';
  destinationPrincipal = 'unknown';
  connectionSecurityPolicy = 'unknown';
  routeName = '-';
  cluster = '-';
  upstream?: UpstreamHost;
  /** Outbound to a host outside the mesh's services (ServiceEntry, PassthroughCluster, BlackHoleCluster): Istio's destination labels for it. */
  egress?: { service: string; name: string; namespace: string };
  status = 0;
  flags: string[] = [];
  /** Envoy's %RESPONSE_CODE_DETAILS%: why this status (`via_upstream`, `route_not_found`, `rbac_access_denied_matched_policy[...]`…). */
  responseCodeDetails = '';
  /** Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON%: why the last connect failed ('' when none). */
  upstreamTransportFailureReason = '';
  /** The request's User-Agent ('' when none). */
  userAgent = '';
  /** Envoy's x-envoy-upstream-service-time: ms from the final attempt's start to its response headers; -1 = none. */
  upstreamServiceTimeMs = -1;
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
  /** Telemetry API `customTags` read from the request's headers, as tag, value, tag, value… (only when some are configured). */
  customTags?: string[];

  constructor(readonly direction: 'inbound' | 'outbound') {}

  flag(f: string): void {
    if (!this.flags.includes(f)) this.flags.push(f);
  }

  get responseFlags(): string {
    if (this.flags.length === 0) return '-';
    if (this.flags.length === 1) return this.flags[0];
    return [...this.flags].sort((a, b) => (FLAG_ORDER[a] ?? 99) - (FLAG_ORDER[b] ?? 99)).join(',');
  }

  finish(): void {
    this.durationUs = Number(process.hrtime.bigint() - this.startNs) / 1000;
  }
}
