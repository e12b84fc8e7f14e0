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
  /** Upstream connection termination: an HTTP/1.1 upstream closed or reset its connection mid-request. */
  UC: 'UC',
  /** Local reset (Envoy's router reset the upstream stream itself; HTTP/2-and-later reasons, see resetFlag). */
  LR: 'LR',
  /** Upstream remote reset (an HTTP/2 RST_STREAM; an HTTP/1.1 upstream has no stream to reset). */
  UR: 'UR',
  /** Upstream protocol error: the upstream's bytes are not a valid HTTP/1.1 response. */
  UPE: 'UPE',
  /** Downstream connection termination. */
  DC: 'DC',
  /** Delay injected by fault injection. */
  DI: 'DI',
  /** Aborted by fault injection. */
  FI: 'FI',
  /** Local rate limited (envoy.filters.http.local_ratelimit): 429. */
  RL: 'RL',
} as const;

/** Envoy's %RESPONSE_CODE_DETAILS% for the answers the sidecar makes itself (StreamInfo::ResponseCodeDetails). */
export const Details = {
  viaUpstream: 'via_upstream',
  routeNotFound: 'route_not_found',
  directResponse: 'direct_response',
  noHealthyUpstream: 'no_healthy_upstream',
  connectFailure: 'upstream_reset_before_response_started{remote_connection_failure}',
  connectionTermination: 'upstream_reset_before_response_started{connection_termination}',
  overflow: 'upstream_reset_before_response_started{overflow}',
  responseTimeout: 'response_timeout',
  perTryTimeout: 'upstream_per_try_timeout',
  faultAbort: 'fault_filter_abort',
  pathNormalizationFailed: 'path_normalization_failed',
  headersTooLarge: 'request_headers_too_large',
  payloadTooLarge: 'request_payload_too_large',
  downstreamDisconnect: 'downstream_remote_disconnect',
  localRateLimited: 'local_rate_limited',
  /** Envoy's jwt_authn: `jwt_authn_access_denied{<status message, spaces as _>}`. */
  jwtDenied: (why: string) => `jwt_authn_access_denied{${why.replace(/ /g, '_')}}`,
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
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  timeout: 'upstream request timeout',
  rbac: 'RBAC: access denied',
} as const;

/**
 * Envoy's Http::StreamResetReason, spelt as Utility::resetReasonToString spells it (the words of the local reply
 * body and, with spaces as underscores, of the response code details).
 */
export type ResetReason =
  | 'local connection failure'
  | 'remote connection failure'
  | 'connection timeout'
  | 'connection termination'
  | 'local reset'
  | 'local refused stream reset'
  | 'overflow'
  | 'remote reset'
  | 'remote refused stream reset'
  | 'remote error with CONNECT request'
  | 'protocol error';

/**
 * Envoy's Filter::streamResetReasonToResponseFlag (router.cc). Of these an HTTP/1.1 upstream, all this mesh has,
 * produces only connection failures (UF), connection termination (UC: a FIN or an RST after connecting, as
 * codec_client.cc reports any close of a connected HTTP/1.1 connection), overflow (UO) and protocol errors (UPE).
 * UR (a stream reset by the peer) and LR need HTTP/2 streams; they are here so the table is Envoy's whole.
 */
export function resetFlag(reason: ResetReason): string {
  switch (reason) {
    case 'local connection failure':
    case 'remote connection failure':
    case 'connection timeout':
      return Flags.UF;
    case 'connection termination':
      return Flags.UC;
    case 'local reset':
    case 'local refused stream reset':
      return Flags.LR;
    case 'overflow':
      return Flags.UO;
    case 'remote reset':
    case 'remote refused stream reset':
    case 'remote error with CONNECT request':
      return Flags.UR;
    case 'protocol error':
      return Flags.UPE;
  }
}

/** Envoy's onUpstreamReset status: 502 for a protocol error, otherwise 503. */
export function resetStatus(reason: ResetReason): number {
  return reason === 'protocol error' ? 502 : 503;
}

/**
 * Envoy's response code details for an upstream reset: upstream_reset_{before|after}_response_started{<reason>},
 * with `|<transport failure reason>` inside the braces when there is one, spaces replaced by underscores.
 */
export function resetDetails(reason: ResetReason, transportFailure: string, responseStarted: boolean): string {
  const base = responseStarted ? 'upstream_reset_after_response_started' : 'upstream_reset_before_response_started';
  return `${base}{${reason}${transportFailure ? `|${transportFailure}` : ''}}`.replace(/ /g, '_');
}

/** Envoy's local reply body for an upstream reset ("retried and the latest" once a retry was sent). */
export function resetBody(reason: ResetReason, transportFailure: string, retried: boolean): string {
  return `upstream connect error or disconnect/reset before headers. ${retried ? 'retried and the latest ' : ''}reset reason: ${reason}${transportFailure ? `, transport failure reason: ${transportFailure}` : ''}`;
}
