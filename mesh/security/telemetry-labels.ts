/**
 * Istio-style security labels for metrics and access logs. Istio writes "unknown" when a principal is not known
 * (plaintext traffic), and labels connection_security_policy only on the server (inbound) side.
 */
import type { ConnInfo } from './mtls';

export interface SecurityLabels {
  source_principal: string;
  destination_principal: string;
  connection_security_policy: 'mutual_tls' | 'none' | 'unknown';
}

/** Labels for a request received by `localIdentity`'s sidecar over a connection described by `info`. */
export function inboundSecurityLabels(info: ConnInfo | undefined, localIdentity: string): SecurityLabels {
  const mtls = info?.mtls === true;
  return {
    source_principal: (mtls && info?.peerPrincipal) || 'unknown',
    destination_principal: mtls ? localIdentity : 'unknown',
    connection_security_policy: info ? info.connectionSecurityPolicy : 'unknown',
  };
}

/** Labels for a request sent by `localIdentity`'s sidecar; `info` is the upstream connection's (undefined if plaintext). */
export function outboundSecurityLabels(info: ConnInfo | undefined, localIdentity: string): SecurityLabels {
  const mtls = info?.mtls === true;
  return {
    source_principal: mtls ? localIdentity : 'unknown',
    destination_principal: (mtls && info?.peerPrincipal) || 'unknown',
    connection_security_policy: 'unknown',
  };
}
