/**
 * How the world's external mail provider is registered in the mesh, as a platform team would ship it: a
 * ServiceEntry for its name (port 80, HTTP, to its TLS port on loopback) and a DestinationRule that
 * originates TLS to it with the provider's CA and checks its certificate's SAN. The app calls
 * `http://api.mail.example/v1/messages` through its sidecar; the sidecar speaks TLS to the provider.
 */
export const MAIL_PROVIDER_HOST = 'api.mail.example';

export interface MailProviderAddress {
  /** Its name (world/topology.ts `externals`); default api.mail.example. */
  host?: string;
  /** The provider's TLS port on loopback. */
  tlsPort: number;
  /** Its root CA (PEM file). */
  caFile: string;
  /** Its endpoint: an IP (STATIC, the default: 127.0.0.1) or a name DNS resolves (DNS: the compose service `mail-provider`). */
  address?: string;
  resolution?: 'STATIC' | 'DNS';
}

export function mailProviderServiceEntry(p: MailProviderAddress): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: mail-provider
spec:
  hosts: [${p.host ?? MAIL_PROVIDER_HOST}]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: ${p.tlsPort}}
  resolution: ${p.resolution ?? 'STATIC'}
  endpoints:
  - address: ${p.address ?? '127.0.0.1'}
`;
}

export function mailProviderTls(p: MailProviderAddress): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: mail-provider
spec:
  host: ${p.host ?? MAIL_PROVIDER_HOST}
  trafficPolicy:
    tls:
      mode: SIMPLE
      caCertificates: ${p.caFile}
      subjectAltNames: [${p.host ?? MAIL_PROVIDER_HOST}]
`;
}
