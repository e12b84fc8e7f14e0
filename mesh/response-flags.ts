/**
 * Envoy's response flags, as they appear in access logs and the `response_flags` metric label. Envoy has no flag
 * for an RBAC denial: it is `-` with response code details `rbac_access_denied_matched_policy[...]`.
 */
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
} as const;

/** Envoy's %RESPONSE_CODE_DETAILS% for the answers the sidecar makes itself (StreamInfo::ResponseCodeDetails). */
export const Details = {
  viaUpstream: 'via_upstream',
  routeNotFound: 'route_not_found',
  noHealthyUpstream: 'no_healthy_upstream',
  connectFailure: 'upstream_reset_before_response_started{connection_failure}',
  connectionTermination: 'upstream_reset_before_response_started{connection_termination}',
  overflow: 'upstream_reset_before_response_started{overflow}',
  responseTimeout: 'response_timeout',
  perTryTimeout: 'upstream_per_try_timeout',
  faultAbort: 'fault_filter_abort',
  pathNormalizationFailed: 'path_normalization_failed',
  headersTooLarge: 'request_headers_too_large',
  payloadTooLarge: 'request_payload_too_large',
  downstreamDisconnect: 'downstream_remote_disconnect',
  /** Istio names RBAC policies ns[<ns>]-policy[<name>]-rule[<i>]; `none` when no ALLOW policy matched. */
  rbacDenied: (policy: string) => `rbac_access_denied_matched_policy[${policy}]`,
} as const;

/** The details Envoy reports with a local reply carrying `flag`, when the call site did not say more. */
export function detailsForFlag(flag: string): string {
  switch (flag) {
    case 'NR':
      return Details.routeNotFound;
    case 'UH':
      return Details.noHealthyUpstream;
    case 'UF':
      return Details.connectFailure;
    case 'UC':
      return Details.connectionTermination;
    case 'UO':
      return Details.overflow;
    case 'UT':
      return Details.responseTimeout;
    case 'FI':
      return Details.faultAbort;
    default:
      return '';
  }
}

/** Envoy's local-reply bodies, so users see what an Istio user would see. */
export const LocalReplies = {
  noHealthyUpstream: 'no healthy upstream',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  reset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  timeout: 'upstream request timeout',
  rbac: 'RBAC: access denied',
} as const;
