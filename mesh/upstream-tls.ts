import type { buildConnector } from 'undici';
import type { Endpoint } from './xds';
import type { WorkloadCertManager } from './security/workload-cert';
import { mtlsConnector } from './security/mtls';
import { spiffeId } from './security/identity';

/**
 * The label Istio's injector puts on every pod with a sidecar; auto mTLS sends mTLS only to endpoints carrying it
 * (a plain upstream without a sidecar gets plaintext). meshlab sidecars announce it with their endpoint.
 */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

/** How one upstream endpoint is reached over mTLS: the connector and the identity it verifies. */
export interface UpstreamTransport {
  connect: buildConnector.connector;
  /** The SPIFFE id the peer must present (spiffeId of the endpoint's service): destination_principal. */
  peerPrincipal: string;
}

/**
 * Outbound mTLS for a sidecar (Istio's auto mTLS): DestinationRule tls mode DISABLE → plaintext; ISTIO_MUTUAL (also
 * the default when unset) → mTLS to every endpoint that has a sidecar, verifying its SPIFFE id. Connectors read the
 * current workload certificate per connection, so after a rotation new connections present the new certificate
 * while pooled keep-alive connections carry on with the one they were established with.
 */
export class UpstreamTls {
  constructor(readonly certs: WorkloadCertManager) {}

  /** The identity `endpoint` must prove when reached over mTLS, or undefined when the hop is plaintext. */
  peerFor(endpoint: Endpoint, tlsMode: string | undefined): string | undefined {
    // compile.ts has already settled auto mTLS per endpoint into its tlsMode label (DestinationRule, sidecar,
    // the destination's PeerAuthentication).
    if (tlsMode === 'DISABLE' || endpoint.labels[TLS_MODE_LABEL] !== 'istio') return undefined;
    return spiffeId(endpoint.service, endpoint.namespace ?? 'default');
  }

  /** The mTLS transport for `endpoint`, or undefined when the hop is plaintext. */
  transportFor(endpoint: Endpoint, tlsMode: string | undefined, connectTimeoutMs?: number): UpstreamTransport | undefined {
    const peerPrincipal = this.peerFor(endpoint, tlsMode);
    if (!peerPrincipal) return undefined;
    const connect = mtlsConnector({ certs: this.certs, expectedPeer: () => peerPrincipal, timeoutMs: connectTimeoutMs || 10_000 });
    return { peerPrincipal, connect };
  }
}
