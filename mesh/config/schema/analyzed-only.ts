/**
 * Schema of Gateway, ServiceEntry and Sidecar: validated and analyzed like istioctl does, not yet run
 * by the sidecars (apply refuses them with ML0003; their runtime comes with the edge and egress
 * work). The fields the analyzers read are typed; the rest of each subtree is accepted as written.
 */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { anyStr, arr, bool, int, map, obj, oneOfEnum, str, type Check, type Rule } from './dsl';
import { labels } from './common';

const S = Codes.SchemaValidationError;
const ANY: Rule = { t: 'any' };
const strings = arr(anyStr);

const port: Rule = obj({ number: int(0, 65535), protocol: anyStr, name: anyStr, targetPort: int(0, 65535) });

const serverTls: Rule = obj({
  httpsRedirect: bool,
  mode: oneOfEnum(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']),
  serverCertificate: anyStr,
  privateKey: anyStr,
  caCertificates: anyStr,
  caCrl: anyStr,
  credentialName: anyStr,
  credentialNames: strings,
  caCertCredentialName: anyStr,
  tlsCertificates: arr(obj({ serverCertificate: anyStr, privateKey: anyStr, caCertificates: anyStr })),
  subjectAltNames: strings,
  verifyCertificateSpki: strings,
  verifyCertificateHash: strings,
  minProtocolVersion: oneOfEnum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']),
  maxProtocolVersion: oneOfEnum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']),
  cipherSuites: strings,
  ecdhCurves: strings,
  insecureSkipVerify: bool,
});

// Istio's ValidateGateway: every server needs a port and at least one host.
const server: Rule = obj(
  { port, bind: anyStr, hosts: arr(str(), undefined, 1), tls: serverTls, defaultEndpoint: anyStr, name: anyStr },
  { required: ['port', 'hosts'] },
);

export const gatewaySpec: Rule = obj({ servers: arr(server), selector: labels });

const resolutionCheck: Check = (v: Record<string, unknown>, path, r) => {
  const hosts = Array.isArray(v.hosts) ? v.hosts : [];
  if (hosts.length === 0) r.report(S, joinPath(path, 'hosts'), `${joinPath(path, 'hosts')}: at least one host is required`);
  if (v.workloadSelector !== undefined && Array.isArray(v.endpoints) && v.endpoints.length > 0) {
    r.report(S, path, `${path}: only one of workloadSelector or endpoints is allowed in a service entry`);
  }
};

export const serviceEntrySpec: Rule = obj(
  {
    hosts: arr(str()),
    addresses: strings,
    ports: arr(obj({ number: int(1, 65535), protocol: anyStr, name: anyStr, targetPort: int(0, 65535) }, { required: ['number'] })),
    location: oneOfEnum(['MESH_EXTERNAL', 'MESH_INTERNAL']),
    resolution: oneOfEnum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']),
    endpoints: arr(obj({ address: anyStr, ports: map(int(0, 65535)), labels, network: anyStr, locality: anyStr, weight: int(0), serviceAccount: anyStr })),
    workloadSelector: obj({ labels }),
    exportTo: strings,
    subjectAltNames: strings,
  },
  { check: resolutionCheck },
);

const connectionPool: Rule = obj({ tcp: ANY, http: ANY });

export const sidecarSpec: Rule = obj({
  workloadSelector: obj({ labels }),
  ingress: arr(obj({ port, bind: anyStr, captureMode: oneOfEnum(['DEFAULT', 'IPTABLES', 'NONE']), defaultEndpoint: anyStr, tls: serverTls, connectionPool }, { required: ['port'] })),
  egress: arr(obj({ port, bind: anyStr, captureMode: oneOfEnum(['DEFAULT', 'IPTABLES', 'NONE']), hosts: arr(str(), undefined, 1) }, { required: ['hosts'] })),
  inboundConnectionPool: connectionPool,
  outboundTrafficPolicy: obj({ mode: oneOfEnum(['REGISTRY_ONLY', 'ALLOW_ANY']), egressProxy: obj({ host: str(), subset: anyStr, port: obj({ number: int(0, 65535) }) }) }),
});
