/**
 * How the TCP proxy reaches a host, and what its metrics say about the hop's identity (Istio's auto
 * mTLS for TCP): an endpoint with a sidecar (`security.istio.io/tlsMode: istio`) is reached over
 * mTLS with this workload's certificate, the peer's SPIFFE id verified (the destination service's),
 * and ALPN `meshlab-tcp/<service port>` telling the peer's inbound listener that the stream is TCP
 * for that port — Envoy learns the port from the connection's original destination, which meshlab's
 * loopback world has not (knowingly different: README). A destination without a sidecar — the
 * brokers, which run beside the mesh — is reached in plaintext and reported with principals
 * "unknown", as Istio's client-side (reporter=source) metrics report a plaintext hop.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { WorkloadCertManager } from '../security/workload-cert';
import { spiffeIdOf, TCP_ALPN_PREFIX } from '../security/mtls';
import { spiffeId } from '../security/identity';
import { TLS_MODE_LABEL } from '../upstream-tls';
import { plaintextConnector, type TcpConnector, type TcpProxyContext } from './tcp-proxy';
import type { TcpHost } from './tcp-cluster';

/** The SPIFFE id a host must present, or undefined when the hop is plaintext (no sidecar there, or no certificates here). */
function peerOf(certs: WorkloadCertManager | undefined, host: TcpHost | undefined): string | undefined {
  if (!certs || !host || host.endpoint.labels[TLS_MODE_LABEL] !== 'istio') return undefined;
  return spiffeId(host.endpoint.service, host.endpoint.namespace ?? 'default');
}

export function tcpConnectorFor(certs: WorkloadCertManager | undefined, identity: string): Pick<TcpProxyContext, 'connector' | 'principals'> {
  const connector: TcpConnector = (host, onConnect, cluster) => {
    const expected = peerOf(certs, host);
    if (!expected) return plaintextConnector(host, onConnect, cluster);
    const current = certs!.current();
    const socket: net.Socket = tls.connect(
      {
        host: host.endpoint.host,
        port: host.endpoint.port,
        secureContext: current.secureContext,
        minVersion: 'TLSv1.3',
        ALPNProtocols: [`${TCP_ALPN_PREFIX}${cluster.port}`],
        rejectUnauthorized: true,
        allowHalfOpen: true,
        checkServerIdentity: (_name, cert) => {
          const id = spiffeIdOf(cert);
          return id === expected ? undefined : new Error(`peer ${host.key} is ${id ?? 'no SPIFFE id'}, expected ${expected}`);
        },
      } as tls.ConnectionOptions,
      onConnect,
    );
    return socket;
  };
  return {
    connector,
    principals: (host) => {
      const peer = peerOf(certs, host);
      return peer ? { source: identity, destination: peer, policy: 'unknown' } : { source: 'unknown', destination: 'unknown', policy: 'unknown' };
    },
  };
}
