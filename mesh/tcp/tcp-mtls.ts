/**
 * How the TCP proxy reaches a host, and what its metrics say about the hop's identity. Istio's
 * auto mTLS sends mTLS only to endpoints with a sidecar (`security.istio.io/tlsMode: istio`); a
 * destination without one — the brokers, which run beside the mesh — is reached in plaintext and
 * reported with source_principal / destination_principal "unknown", as Istio's client-side
 * (reporter=source) metrics report a plaintext hop. Sidecar-to-sidecar TCP over mTLS needs the
 * destination sidecar's inbound TCP path, which is not built yet (mesh/tcp/README.md): an endpoint
 * with a sidecar is reached in plaintext too, and the inbound listener (which sniffs mTLS vs
 * plaintext) applies PeerAuthentication to it — STRICT refuses it, as it refuses any plaintext.
 */
import type { WorkloadCertManager } from '../security/workload-cert';
import { plaintextConnector, type TcpProxyContext } from './tcp-proxy';

export function tcpConnectorFor(_certs: WorkloadCertManager | undefined, _identity: string): Pick<TcpProxyContext, 'connector' | 'principals'> {
  return {
    connector: plaintextConnector,
    principals: () => ({ source: 'unknown', destination: 'unknown', policy: 'unknown' }),
  };
}
