/**
 * Schema of Gateway, ServiceEntry and Sidecar, validated and analyzed like istioctl does. Gateway is run by
 * the ingress gateway (mesh/gateway/); ServiceEntry and Sidecar are not yet run by the sidecars (apply
 * refuses them with ML0003; their runtime comes with the egress work). The fields the analyzers read are
 * typed; the rest of each subtree is accepted as written.
 */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { anyStr, arr, bool, int, map, obj, oneOfEnum, str, type Check, type Rule } from './dsl';
import { labels } from './common';

const S = Codes.SchemaValidationError;
const ANY: Rule = { t: 'any' };
const strings = arr(anyStr);

const port: Rule = obj({ number: int(0, 65535), protocol: anyStr, name: anyStr, targetPort: int(0, 65535) });

// Gateway: run by the ingress gateway (mesh/gateway/). HTTP and HTTPS servers, TLS SIMPLE and MUTUAL from a
// credentialName or files; what else Istio accepts is ML0003 by name.
const gatewayTls: Rule = obj(
  {
    httpsRedirect: bool,
    mode: oneOfEnum(['SIMPLE', 'MUTUAL'], {
      unsupported: {
        PASSTHROUGH: 'the gateway terminates TLS (SIMPLE, MUTUAL); SNI passthrough is not run',
        AUTO_PASSTHROUGH: 'no multi-network passthrough in the lab',
        ISTIO_MUTUAL: 'the gateway terminates TLS with its own credential (SIMPLE, MUTUAL)',
        OPTIONAL_MUTUAL: 'use MUTUAL (a client certificate required) or SIMPLE',
      },
    }),
    serverCertificate: anyStr,
    privateKey: anyStr,
    caCertificates: anyStr,
    credentialName: anyStr,
  },
  {
    unsupported: {
      caCrl: '',
      credentialNames: 'use credentialName',
      caCertCredentialName: 'put ca.crt in the credentialName Secret (or NAME-cacert)',
      tlsCertificates: 'use credentialName',
      subjectAltNames: '',
      verifyCertificateSpki: '',
      verifyCertificateHash: '',
      minProtocolVersion: "Node's TLS defaults (1.2 and 1.3)",
      maxProtocolVersion: "Node's TLS defaults (1.2 and 1.3)",
      cipherSuites: '',
      ecdhCurves: '',
      insecureSkipVerify: '',
    },
  },
);

// Sidecar ingress tls: analyzed only.
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

const RUN_PROTOCOLS = ['HTTP', 'HTTPS'];
const ISTIO_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'REDIS', 'MYSQL', 'TCP', 'TLS', 'UDP'];

// Istio's ValidateGateway: every server needs a port and at least one host; HTTPS needs tls, tls needs a credential.
const server: Rule = obj(
  { port: obj({ number: int(0, 65535), protocol: anyStr, name: anyStr }, { unsupported: { targetPort: 'deprecated in Istio' } }), hosts: arr(str(), undefined, 1), tls: gatewayTls, name: anyStr },
  {
    required: ['port', 'hosts'],
    unsupported: { bind: 'the gateway listens on the world host', defaultEndpoint: '' },
    check: (v: Record<string, unknown>, path, r) => {
      const p = v.port as { protocol?: unknown } | undefined;
      const proto = typeof p?.protocol === 'string' ? p.protocol.toUpperCase() : '';
      const at = joinPath(joinPath(path, 'port'), 'protocol');
      if (proto && !ISTIO_PROTOCOLS.includes(proto)) r.report(S, at, `${at}: unrecognized protocol ${JSON.stringify(p?.protocol)}`);
      else if (proto && !RUN_PROTOCOLS.includes(proto)) r.report(Codes.UnsupportedField, at, `${at}: protocol ${proto} is valid Istio, not run by meshlab's gateway (HTTP, HTTPS)`);
      const tls = v.tls as Record<string, unknown> | undefined;
      if (proto === 'HTTPS' && !tls) r.report(S, path, `${path}: server must have TLS settings for HTTPS/TLS protocols`);
      if (proto === 'HTTPS' && tls && tls.httpsRedirect) r.report(S, joinPath(path, 'tls'), `${joinPath(path, 'tls')}: httpsRedirect applies to HTTP servers`);
      if (tls && (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && !tls.credentialName && !(tls.serverCertificate && tls.privateKey)) {
        r.report(S, joinPath(path, 'tls'), `${joinPath(path, 'tls')}: SIMPLE TLS requires a private key and server certificate, or a credentialName`);
      }
      if (tls && tls.mode === 'MUTUAL' && !tls.credentialName && !tls.caCertificates) {
        r.report(S, joinPath(path, 'tls'), `${joinPath(path, 'tls')}: MUTUAL TLS requires client CA certificates (caCertificates or a credentialName with ca.crt)`);
      }
    },
  },
);

// Istio's ValidateGateway: at least one server, port names unique across the servers.
export const gatewaySpec: Rule = obj(
  { servers: arr(server), selector: labels },
  {
    check: (v: Record<string, unknown>, path, r) => {
      const servers = Array.isArray(v.servers) ? (v.servers as Array<Record<string, unknown>>) : [];
      if (servers.length === 0) r.report(S, joinPath(path, 'servers'), `${joinPath(path, 'servers')}: gateway must have at least one server`);
      const names = new Set<unknown>();
      servers.forEach((s, i) => {
        const name = (s?.port as { name?: unknown } | undefined)?.name;
        if (name === undefined) return;
        const p = joinPath(joinPath(joinPath(path, 'servers'), i), 'port');
        if (names.has(name)) r.report(S, p, `${p}: port names in servers must be unique: duplicate name ${String(name)}`);
        names.add(name);
      });
    },
  },
);

/** Istio's ValidateServiceEntry rules (and the CRD's list-map keys). */
const resolutionCheck: Check = (v: Record<string, unknown>, path, r) => {
  const at = (k: string | number, base = path) => joinPath(base, k);
  const hosts = Array.isArray(v.hosts) ? v.hosts : [];
  if (hosts.length === 0) r.report(S, at('hosts'), `${at('hosts')}: at least one host is required`);
  hosts.forEach((h, i) => {
    if (h === '*') r.report(S, at(i, at('hosts')), `${at(i, at('hosts'))}: hostname cannot be wildcard`);
  });
  const endpoints = Array.isArray(v.endpoints) ? v.endpoints : [];
  if (v.workloadSelector !== undefined && endpoints.length > 0) {
    r.report(S, path, `${path}: only one of WorkloadSelector or Endpoints can be set per ServiceEntry`);
  }
  const sel = (v.workloadSelector as { labels?: Record<string, unknown> } | undefined)?.labels ?? {};
  for (const [k, x] of Object.entries(sel)) {
    if (k.includes('*') || String(x).includes('*')) r.report(S, at('workloadSelector'), `${at('workloadSelector')}: wildcard is not supported in selector (${k}: ${String(x)})`);
  }
  const resolution = typeof v.resolution === 'string' ? v.resolution : 'NONE';
  (Array.isArray(v.addresses) ? v.addresses : []).forEach((a, i) => {
    if (typeof a === 'string' && a.includes('/') && resolution !== 'NONE' && resolution !== 'STATIC') {
      r.report(S, at(i, at('addresses')), `${at(i, at('addresses'))}: CIDR addresses are allowed only for NONE/STATIC resolution types`);
    }
  });
  if (resolution === 'NONE' && endpoints.length > 0) r.report(S, at('endpoints'), `${at('endpoints')}: no endpoints should be provided for resolution type none`);
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) r.report(S, at('endpoints'), `${at('endpoints')}: there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN`);
  const numbers = new Set<unknown>();
  const names = new Set<unknown>();
  (Array.isArray(v.ports) ? v.ports : []).forEach((p: Record<string, unknown>, i) => {
    if (!p || typeof p !== 'object') return;
    const pp = at(i, at('ports'));
    if (p.number !== undefined && numbers.has(p.number)) r.report(S, pp, `${pp}: port number cannot be duplicated: ${String(p.number)}`);
    if (p.name !== undefined && names.has(p.name)) r.report(S, pp, `${pp}: Duplicate value: port name ${JSON.stringify(p.name)}`);
    numbers.add(p.number);
    names.add(p.name);
  });
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
