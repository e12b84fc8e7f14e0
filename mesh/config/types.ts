/**
 * TypeScript shapes of the Istio resources meshlab accepts, exactly as they appear in YAML
 * (camelCase field names of Istio's JSON/YAML form). Only the fields meshlab supports are typed;
 * anything else is rejected by the schema validator before a resource reaches the store.
 */

export type Kind =
  | 'VirtualService'
  | 'DestinationRule'
  | 'PeerAuthentication'
  | 'AuthorizationPolicy'
  | 'Gateway'
  | 'ServiceEntry'
  | 'Sidecar'
  | 'Telemetry'
  | 'RequestAuthentication'
  | 'EnvoyFilter';

/** Kinds the sidecars and the ingress gateway run (ServiceEntry and Sidecar: mesh/egress/; Gateway: mesh/gateway/; RequestAuthentication and EnvoyFilter: mesh/filters/). */
export const RUNTIME_KINDS: readonly Kind[] = ['VirtualService', 'DestinationRule', 'PeerAuthentication', 'AuthorizationPolicy', 'Telemetry', 'ServiceEntry', 'Sidecar', 'Gateway', 'RequestAuthentication', 'EnvoyFilter'];

/** Position of a YAML node: 1-based line and column, like istioctl prints them. */
export interface SourcePos {
  line: number;
  column: number;
}

/** Where a resource came from, plus the position of every field inside it (keyed by path). */
export interface ResourceSource {
  file: string;
  line: number;
  column: number;
  /** 'spec.http[0].route[1].weight' -> position of that key (or sequence item). */
  positions?: Record<string, SourcePos>;
}

export interface MeshResource<S = unknown> {
  kind: Kind;
  apiVersion: string;
  metadata: { name: string; namespace: string };
  /** The spec exactly as written (validated by `analyze`, never rewritten). */
  spec: S;
  source: ResourceSource;
}

// ---------- common ----------

/** Istio StringMatch: exactly one of exact/prefix/regex; `{}` in headers means "present". */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface Percent {
  value?: number;
}

export interface PortSelector {
  number?: number;
}

// ---------- VirtualService ----------

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: Headers;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  method?: StringMatch;
  headers?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
  /** Labels of the *calling* workload (the sidecar's own labels). */
  sourceLabels?: Record<string, string>;
  /** The calling workload's namespace (Istio: the client sidecar's); decided by the caller's sidecar. */
  sourceNamespace?: string;
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  /** Only `false` (Istio's default); `true` is ML0003 (no previous_priorities retry predicate). */
  retryRemoteLocalities?: boolean;
  /** Envoy's retry_back_off.base_interval (max 10× it); default 25 ms. */
  backoff?: string;
  /** Envoy's previous_hosts predicate; Istio's default: on, except under consistent hashing. */
  retryIgnorePreviousHosts?: boolean;
}

export interface HTTPFaultInjection {
  delay?: { fixedDelay?: string; percentage?: Percent; percent?: number };
  abort?: { httpStatus?: number; percentage?: Percent };
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  headers?: Headers;
  rewrite?: HTTPRewrite;
}

/** Istio's HTTPRewrite: the path (uri or uriRegexRewrite, not both) and the authority, rewritten before forwarding. */
export interface HTTPRewrite {
  uri?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
  authority?: string;
}

/** Istio's L4MatchAttributes (tcp routes). */
export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
}

/** Istio's TLSMatchAttributes (tls routes: SNI, passthrough). */
export interface TLSMatchAttributes extends L4MatchAttributes {
  sniHosts: string[];
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route?: RouteDestination[];
}

export interface VirtualServiceSpec {
  hosts: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tcp?: TCPRoute[];
  tls?: TLSRoute[];
  /** Namespaces the VirtualService is visible to ("." = its own, "*" = all; unset = all). */
  exportTo?: string[];
}

// ---------- DestinationRule ----------

export type SimpleLB = 'LEAST_REQUEST' | 'LEAST_CONN' | 'ROUND_ROBIN' | 'RANDOM' | 'PASSTHROUGH' | 'UNSPECIFIED';

export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: { name: string; path?: string; ttl?: string };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  ringHash?: { minimumRingSize?: number };
  /** Deprecated top-level form of ringHash.minimumRingSize. */
  minimumRingSize?: number;
}

export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
}

/** Istio's LocalityLoadBalancerSetting (mesh/lb/locality.ts). */
export interface LocalityLoadBalancerSetting {
  /** `false` turns locality LB off for this host. */
  enabled?: boolean;
  /** Per caller locality (`from`), the share of traffic each destination locality gets (`to`, summing to 100). */
  distribute?: { from: string; to: Record<string, number> }[];
  /** Region to fail over to from a region (instead of "any other region"). */
  failover?: { from: string; to: string }[];
  /** Labels, in order, an endpoint should share with the caller to be preferred. */
  failoverPriority?: string[];
}

export interface ConnectionPoolSettings {
  tcp?: { maxConnections?: number; connectTimeout?: string; tcpKeepalive?: { time?: string }; idleTimeout?: string };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
  };
}

export interface OutlierDetection {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  /** Deprecated: treated as consecutiveGatewayErrors (Istio's original meaning). */
  consecutiveErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
}

export interface ClientTLSSettings {
  mode?: 'ISTIO_MUTUAL' | 'DISABLE' | 'SIMPLE' | 'MUTUAL';
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  /** Per port (ServiceEntry hosts only in meshlab): replaces the top level's settings for that port, field by field. */
  portLevelSettings?: (Omit<TrafficPolicy, 'portLevelSettings'> & { port?: { number?: number } })[];
}

export type TrafficPolicyKind = Exclude<keyof TrafficPolicy, 'portLevelSettings'>;

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
}

// ---------- security ----------

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsMode };
  /** Port number (as a string key, like Istio) -> mode. Needs a selector, as in Istio. */
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

export interface AuthorizationRule {
  from?: { source?: { principals?: string[]; notPrincipals?: string[]; namespaces?: string[]; notNamespaces?: string[] } }[];
  to?: { operation?: { methods?: string[]; notMethods?: string[]; paths?: string[]; notPaths?: string[] } }[];
  when?: { key: string; values?: string[]; notValues?: string[] }[];
}

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  action?: 'ALLOW' | 'DENY';
  rules?: AuthorizationRule[];
}

export type VirtualService = MeshResource<VirtualServiceSpec> & { kind: 'VirtualService' };
export type DestinationRule = MeshResource<DestinationRuleSpec> & { kind: 'DestinationRule' };
export type PeerAuthentication = MeshResource<PeerAuthenticationSpec> & { kind: 'PeerAuthentication' };
export type AuthorizationPolicy = MeshResource<AuthorizationPolicySpec> & { kind: 'AuthorizationPolicy' };

/** A running instance as the analyzer sees it (used for subset/outlier checks). */
export interface Instance {
  service: string;
  labels: Record<string, string>;
  /** Its namespace; "default" when absent. */
  namespace?: string;
}

/**
 * Any other object found beside the Istio resources: Kubernetes objects (Namespace, Service,
 * Deployment, Pod, …) that describe the topology, or Istio kinds meshlab reads only as context
 * (RequestAuthentication). `ignored` says why an object plays no part, if it plays none.
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  /** The whole object as written. */
  raw: Record<string, unknown>;
  source: ResourceSource;
  ignored?: string;
}

export interface AnalyzeContext {
  instances?: Instance[];
  /** Kubernetes (and context-only Istio) objects loaded with the resources. */
  objects?: readonly KubeObject[];
  /** Services of the running world (namespace default) when analyzing it live. */
  services?: readonly { name: string; namespace?: string; ports?: number[]; labels?: Record<string, string> }[];
  /**
   * The Service, Pod and Namespace objects given are all there are (a live cluster, or istioctl's
   * analyzer test harness with its runtime resources): a missing one does not exist. Without it,
   * checks that need them run only when such objects (or the running world) are present — as
   * `istioctl analyze --use-kube=false` skips analyzers whose inputs it has not read.
   */
  runtimeResources?: boolean;
  /**
   * The services are not in the analyzed set and are not given (the control plane's config store: its
   * world's services come from the topology and the sidecars' announcements): a ServiceEntry in the set
   * does not make the set the whole registry, so a host found in none is not reported missing.
   */
  registryOutsideConfig?: boolean;
  /** Built by `analyze` from the above; analyzers read services, workloads and namespaces here. */
  inventory?: import('./kube').Inventory;
}
