import { Counter, Gauge, Registry, registerProcessMetrics } from './prom';
import { RequestMetrics } from './request-metrics';
import type { ClusterObserver } from './cluster';
import type { UpstreamHost } from './upstream-host';
import type { StreamInfo } from './stream-info';
import type { RefusedEvent } from './security/mtls';
import type { RotatedEvent } from './security/workload-cert';

/**
 * Envoy's default histogram buckets (HistogramSettingsImpl::defaultBuckets). Istio's bootstrap sets no
 * histogram_bucket_settings unless a pod asks (sidecar.istio.io/statsHistogramBuckets), so all its istio_*
 * histograms use them: durations in ms and the byte sizes alike (a 2 MB body lands in le="3600000").
 */
export const ENVOY_DEFAULT_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** istio_request_duration_milliseconds' buckets: Envoy's defaults. */
export const ENVOY_DURATION_BUCKETS_MS = ENVOY_DEFAULT_BUCKETS;
/** istio_request_bytes' and istio_response_bytes' buckets: Envoy's defaults too. */
export const ISTIO_BYTE_BUCKETS = ENVOY_DEFAULT_BUCKETS;

/** Istio's standard request labels. */
export const REQUEST_LABELS = [
  'reporter',
  'source_workload',
  'source_version',
  'destination_workload',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'response_code',
  'response_flags',
  'connection_security_policy',
  'source_principal',
  'destination_principal',
  'request_protocol',
  // The rest of Istio's standard label set, after the labels existing queries use (exposition order only).
  'source_app',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_cluster',
  'destination_app',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_service_namespace',
  'destination_cluster',
  'grpc_response_status',
] as const;

/** Istio's TCP metric labels: the standard set without response_code and grpc_response_status ("present only on HTTP metrics"). */
export const TCP_LABELS = REQUEST_LABELS.filter((l) => l !== 'response_code' && l !== 'grpc_response_status');

/** What one proxied TCP connection reports (mesh/tcp/tcp-proxy.ts). */
export interface TcpConnectionReport {
  direction: 'inbound' | 'outbound';
  destinationService: string;
  destinationVersion: string;
  destinationNamespace: string;
  /** The destination's workload name, or 'unknown' (a destination without a sidecar reports none). */
  destinationWorkload: string;
  responseFlags: string;
  connectionSecurityPolicy: string;
  sourcePrincipal: string;
  destinationPrincipal: string;
}

/** The four istio_tcp_* counters of one label set, taken once per connection so each data chunk is one addition. */
export interface TcpSeries {
  sent(n: number): void;
  received(n: number): void;
  closed(): void;
}

/** Istio's default cluster id (CLUSTER_ID), the value of source_cluster / destination_cluster. */
export const ISTIO_CLUSTER_ID = 'Kubernetes';

/**
 * The sidecar's Prometheus metrics with Istio's names and labels. The four per-request families
 * are accumulated in plain numbers per label combination (`RequestMetrics`) and published at
 * scrape time, so recording a request costs a map lookup and a few additions; the rare events
 * (ejections, retries, certificates…) use prom-client directly.
 */
export class MeshStats implements ClusterObserver {
  readonly registry = new Registry();
  /** istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes. */
  readonly requestMetrics = new RequestMetrics(REQUEST_LABELS, ENVOY_DURATION_BUCKETS_MS, ISTIO_BYTE_BUCKETS);
  readonly ejections: Counter<string>;
  readonly ejected: Gauge<string>;
  readonly overflows: Counter<string>;
  readonly retries: Counter<string>;
  readonly refusedConnections: Counter<string>;
  readonly retryOverflows: Counter<string>;
  readonly certRotations: Counter<string>;
  readonly certGeneration: Gauge<string>;
  readonly certExpiry: Gauge<string>;
  readonly tcpSent: Counter<string>;
  readonly tcpReceived: Counter<string>;
  readonly tcpOpened: Counter<string>;
  readonly tcpClosed: Counter<string>;
  /** Live per-cluster numbers read at scrape time (active requests, pending), set by the sidecar. */
  clusterGauges?: () => Iterable<{ cluster: string; active: number; pending: number }>;

  constructor(readonly workload: { service: string; version: string; namespace?: string }) {
    const registers = [this.registry];
    this.requestMetrics.register(this.registry);
    this.ejections = new Counter({ name: 'meshlab_outlier_ejections_total', help: 'Hosts ejected by outlier detection.', labelNames: ['cluster', 'host'], registers });
    this.ejected = new Gauge({ name: 'meshlab_outlier_ejected_hosts', help: 'Hosts currently ejected by outlier detection.', labelNames: ['cluster'], registers });
    this.overflows = new Counter({ name: 'meshlab_upstream_rq_pending_overflow_total', help: 'Requests refused by circuit breakers (503 UO).', labelNames: ['cluster'], registers });
    this.retries = new Counter({ name: 'meshlab_upstream_rq_retry_total', help: 'Retries sent upstream.', labelNames: ['cluster'], registers });
    this.retryOverflows = new Counter({ name: 'meshlab_upstream_rq_retry_overflow_total', help: 'Retries not sent because the maxRetries circuit breaker was full (the answer went to the client flagged UO).', labelNames: ['cluster'], registers });
    this.refusedConnections = new Counter({ name: 'meshlab_inbound_connections_refused_total', help: 'Inbound connections refused by the mTLS listener (PeerAuthentication), by reason.', labelNames: ['reason', 'connection_security_policy'], registers });
    this.tcpSent = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'Bytes sent to the downstream during a TCP connection (the response direction).', labelNames: TCP_LABELS, registers });
    this.tcpReceived = new Counter({ name: 'istio_tcp_received_bytes_total', help: 'Bytes received from the downstream during a TCP connection (the request direction).', labelNames: TCP_LABELS, registers });
    this.tcpOpened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections opened.', labelNames: TCP_LABELS, registers });
    this.tcpClosed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections closed.', labelNames: TCP_LABELS, registers });
    this.certRotations = new Counter({ name: 'meshlab_workload_cert_rotations_total', help: 'Workload certificates issued to this proxy (the first one included).', registers });
    this.certGeneration = new Gauge({ name: 'meshlab_workload_cert_generation', help: 'Generation of the workload certificate in use (1 = first, +1 per rotation).', registers });
    this.certExpiry = new Gauge({ name: 'meshlab_workload_cert_expiry_timestamp_seconds', help: 'notAfter of the workload certificate in use (Unix seconds).', registers });
    const stats = this;
    new Gauge({
      name: 'meshlab_upstream_rq_active',
      help: 'Requests in flight upstream, per cluster.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of stats.clusterGauges?.() ?? []) this.set({ cluster: c.cluster }, c.active);
      },
    });
    new Gauge({
      name: 'meshlab_upstream_rq_pending_active',
      help: 'Requests waiting for a connection slot (circuit breaker queue), per cluster.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of stats.clusterGauges?.() ?? []) this.set({ cluster: c.cluster }, c.pending);
      },
    });
    registerProcessMetrics(this.registry);
  }

  onEject(cluster: string, host: UpstreamHost): void {
    this.ejections.inc({ cluster, host: host.instance });
    this.ejected.inc({ cluster });
  }

  onUneject(cluster: string): void {
    this.ejected.dec({ cluster });
  }

  onOverflow(cluster: string): void {
    this.overflows.inc({ cluster });
  }

  onRetry(cluster: string): void {
    this.retries.inc({ cluster });
  }

  onRetryOverflow(cluster: string): void {
    this.retryOverflows.inc({ cluster });
  }

  onRefused(ev: RefusedEvent): void {
    this.refusedConnections.inc({ reason: ev.reason, connection_security_policy: ev.connectionSecurityPolicy });
  }

  onCertRotated(ev: RotatedEvent): void {
    this.certRotations.inc();
    this.certGeneration.set(ev.generation);
    this.certExpiry.set(Math.floor(ev.notAfter.getTime() / 1000));
  }

  /** source_app, source_canonical_service, source_canonical_revision, source_workload_namespace, source_cluster. */
  private peerLabels(src: boolean, peerApp: string, peerVersion: string, peerNamespace: string): string[] {
    if (src) return [this.workload.service, this.workload.service, this.workload.version, this.workload.namespace ?? 'default', ISTIO_CLUSTER_ID];
    if (peerApp === 'unknown') return ['unknown', 'unknown', 'unknown', 'unknown', 'unknown'];
    return [peerApp, peerApp, peerVersion, peerNamespace, ISTIO_CLUSTER_ID];
  }

  /** destination_app, _canonical_service, _canonical_revision, _workload_namespace, _service_namespace, _cluster. */
  private destinationLabels(src: boolean, destService: string, destVersion: string, destNamespace: string): string[] {
    const ns = this.workload.namespace ?? 'default';
    if (!src) return [this.workload.service, this.workload.service, this.workload.version, ns, ns, ISTIO_CLUSTER_ID];
    if (destService === 'unknown') return ['unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown'];
    return [destService, destService, destVersion, destNamespace, destNamespace, ISTIO_CLUSTER_ID];
  }

  /**
   * An outbound request to a host outside the mesh's services, labelled as Istio's stats filter labels it: a
   * ServiceEntry host is destination_service and destination_service_name, in its entry's namespace;
   * PassthroughCluster keeps the Host as destination_service; BlackHoleCluster names itself; no destination workload.
   */
  private recordEgress(info: StreamInfo, egress: NonNullable<StreamInfo['egress']>): void {
    const key = `e\u0001${egress.service}\u0001${egress.name}\u0001${egress.namespace}\u0001${info.status}\u0001${info.responseFlags}`;
    const u = 'unknown';
    const series = this.requestMetrics.get(key) ?? this.requestMetrics.create(key, [
      'source',
      `${this.workload.service}-${this.workload.version}`,
      this.workload.version,
      u,
      u,
      egress.service,
      egress.name,
      String(info.status),
      info.responseFlags,
      u,
      u,
      u,
      'http',
      ...this.peerLabels(true, u, u, u),
      u, u, u, u, egress.namespace, u,
      '',
    ]);
    this.requestMetrics.record(series, info.durationUs / 1000, info.bytesReceived, info.bytesSent);
  }

  /**
   * A TCP connection opened (its routing settled: connected, or refused with its flags): counts it in
   * istio_tcp_connections_opened_total and returns the series its bytes and its close go to.
   */
  openTcp(r: TcpConnectionReport): TcpSeries {
    const src = r.direction === 'outbound';
    const ns = this.workload.namespace ?? 'default';
    const destService = r.destinationService || 'unknown';
    const destNamespace = src ? r.destinationNamespace : ns;
    const values = [
      src ? 'source' : 'destination',
      src ? `${this.workload.service}-${this.workload.version}` : 'unknown',
      src ? this.workload.version : 'unknown',
      src ? r.destinationWorkload : `${this.workload.service}-${this.workload.version}`,
      src ? r.destinationVersion : this.workload.version,
      destService === 'unknown' ? 'unknown' : `${destService}.${destNamespace}.svc.cluster.local`,
      destService,
      r.responseFlags,
      r.connectionSecurityPolicy,
      r.sourcePrincipal,
      r.destinationPrincipal,
      'tcp',
      ...this.peerLabels(src, 'unknown', 'unknown', 'unknown'),
      ...(src && r.destinationWorkload === 'unknown' ? ['unknown', 'unknown', 'unknown', destNamespace, destNamespace, ISTIO_CLUSTER_ID] : this.destinationLabels(src, destService, r.destinationVersion, destNamespace)),
    ];
    const labels: Record<string, string> = {};
    TCP_LABELS.forEach((l, i) => (labels[l] = values[i]));
    this.tcpOpened.inc(labels);
    const sent = this.tcpSent.labels(labels);
    const received = this.tcpReceived.labels(labels);
    const closed = this.tcpClosed.labels(labels);
    return { sent: (n) => sent.inc(n), received: (n) => received.inc(n), closed: () => closed.inc() };
  }

  record(info: StreamInfo): void {
    if (info.egress) return this.recordEgress(info, info.egress);
    const src = info.direction === 'outbound';
    const destVersion = src ? (info.upstream?.version ?? 'unknown') : this.workload.version;
    const destService = info.destinationService || 'unknown';
    // Outbound: the namespace of the host that answered (its endpoint's); without one, this workload's.
    const destNamespace = src ? (info.upstream?.namespace ?? this.workload.namespace ?? 'default') : (this.workload.namespace ?? 'default');
    // The key holds exactly what the labels are derived from (the workload is fixed), so equal
    // keys mean equal labels and vice versa; the 13 label strings are built once per series.
    const key = src
      ? `o\u0001${destService}\u0001${destVersion}\u0001${destNamespace}\u0001${info.status}\u0001${info.responseFlags}\u0001${info.connectionSecurityPolicy}\u0001${info.sourcePrincipal}\u0001${info.destinationPrincipal}`
      : `i\u0001${destService}\u0001${info.sourceWorkload}\u0001${info.sourceVersion}\u0001${info.sourceNamespace}\u0001${info.status}\u0001${info.responseFlags}\u0001${info.connectionSecurityPolicy}\u0001${info.sourcePrincipal}\u0001${info.destinationPrincipal}`;
    const series = this.requestMetrics.get(key) ?? this.requestMetrics.create(key, [
      src ? 'source' : 'destination',
      src ? `${this.workload.service}-${this.workload.version}` : info.sourceWorkload,
      src ? this.workload.version : info.sourceVersion,
      destService === 'unknown' ? 'unknown' : `${destService}-${destVersion}`,
      destVersion,
      destService === 'unknown' ? 'unknown' : `${destService}.${destNamespace}.svc.cluster.local`,
      destService,
      String(info.status),
      info.responseFlags,
      info.connectionSecurityPolicy,
      info.sourcePrincipal,
      info.destinationPrincipal,
      'http',
      ...this.peerLabels(src, info.sourceApp, info.sourceVersion, info.sourceNamespace),
      ...this.destinationLabels(src, destService, destVersion, destNamespace),
      '', // grpc_response_status: empty for plain HTTP, as Istio reports it
    ]);
    // Body bytes, as the access log's bytes_received/bytes_sent. Istio's istio_stats filter records the downstream
    // wire bytes (meter->wireBytesReceived/Sent: head and chunk framing included), which Node's HTTP server does
    // not expose per request: on a cluster each value is larger by the request's (response's) head.
    this.requestMetrics.record(series, info.durationUs / 1000, info.bytesReceived, info.bytesSent);
  }
}
