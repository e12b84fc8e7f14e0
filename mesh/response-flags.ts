/** Envoy's response flags, as they appear in access logs and the `response_flags` metric label. */
export const Flags = {
  NONE: '-',
  /** No healthy upstream host. */
  UH: 'UH',
  /** Upstream connection failure. */
  UF: 'UF',
  /** Upstream overflow (circuit breaker). */
  UO: 'UO',
  /** No route configured. */
  NR: 'NR',
  /** Upstream retry limit exceeded. */
  URX: 'URX',
  /** Upstream request timeout. */
  UT: 'UT',
  /** Upstream connection termination (reset after the response started, or before headers). */
  UC: 'UC',
  /** Downstream connection termination. */
  DC: 'DC',
  /** Delay injected by fault injection. */
  DI: 'DI',
  /** Aborted by fault injection. */
  FI: 'FI',
  /** Denied by RBAC (authorization policy). */
  RBAC: 'RBAC',
} as const;

/** Envoy's local-reply bodies, so users see what an Istio user would see. */
export const LocalReplies = {
  noHealthyUpstream: 'no healthy upstream',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  reset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  timeout: 'upstream request timeout',
  rbac: 'RBAC: access denied',
} as const;
