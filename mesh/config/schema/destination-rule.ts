/** Schema of the DestinationRule fields meshlab implements. */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { anyStr, arr, bool, dur, int, map, num, obj, oneOfEnum, str, type Check, type Rule } from './dsl';
import { exportTo, labels, meshHost } from './common';

const S = Codes.SchemaValidationError;

/** A protobuf oneof: Istio's parser rejects two members; none is valid (Istio has no "required" rule here). */
const atMostOne =
  (keys: string[], what: string): Check =>
  (v: Record<string, unknown>, path, r) => {
    const set = keys.filter((k) => v[k] !== undefined && v[k] !== null);
    if (set.length > 1) r.report(S, path, `${path}: only one ${what} may be set (found ${set.join(', ')})`);
  };

/** Istio's "… must have at least one field" (validateTrafficPolicy, validateConnectionPool). */
const notEmpty =
  (what: string): Check =>
  (v: Record<string, unknown>, path, r) => {
    if (Object.keys(v).length === 0) r.report(S, path, `${path}: ${what} must have at least one field`);
  };

const consistentHash: Rule = obj(
  {
    httpHeaderName: str(),
    httpCookie: obj({ name: str(), path: str(), ttl: dur({ allowZero: true }) }, { required: ['name'], unsupported: { attributes: 'cookie attributes are not set by the meshlab sidecar' } }),
    useSourceIp: bool,
    httpQueryParameterName: str(),
    ringHash: obj({ minimumRingSize: int(1) }),
    minimumRingSize: int(1),
  },
  {
    unsupported: { maglev: 'use ringHash', localityLbSetting: 'set localityLbSetting on the loadBalancer, beside consistentHash' },
    check: (v: Record<string, unknown>, path, r) => {
      const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'];
      atMostOne(keys, 'hash key')(v, path, r);
      if (!keys.some((k) => v[k] !== undefined && v[k] !== null)) {
        // Valid Istio: a ring without a hash policy, so Envoy hashes every request at random.
        r.report(Codes.UnsupportedField, path, `${path}: a consistentHash without a hash key (httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName) is valid Istio, not supported by meshlab (Envoy then hashes each request at random); name a key`);
      }
      if (v.minimumRingSize !== undefined) {
        const p = joinPath(path, 'minimumRingSize');
        if (v.ringHash !== undefined) r.report(S, p, `${p}: set ringHash.minimumRingSize only (the top-level field is its deprecated form)`);
        else r.report(Codes.SchemaWarning, p, `${p} is deprecated, use ringHash: {minimumRingSize: ${String(v.minimumRingSize)}}`);
      }
    },
  },
);

/** Istio's validateLocalities: at most one `*`, at the end; no empty region/zone/subzone. */
const localityPattern: Check = (v: string, path, r) => {
  const stars = v.split('*').length - 1;
  if (stars > 1 || (stars === 1 && !v.endsWith('*'))) r.report(S, path, `${path}: locality ${v} wildcard '*' number can not exceed 1 and must be in the end`);
  else if (v.split('/').some((part) => part === '') || v.split('/').length > 3) r.report(S, path, `${path}: locality ${v} must not contain empty region/zone/subzone info (write region, region/zone or region/zone/subzone)`);
};

const failoverRegion: Check = (v: string, path, r) => {
  if (v.includes('/')) r.report(S, path, `${path}: locality lb failover only specify region (got ${v})`);
  else if (v.includes('*')) r.report(S, path, `${path}: locality lb failover region should not contain '*' wildcard`);
};

const TOPOLOGY_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'];

/** Istio's ValidateLocalityLbSetting (the outlier-detection warning is checked on the traffic policy). */
const localityLbSetting: Rule = obj(
  {
    enabled: bool,
    distribute: arr(
      obj(
        {
          from: str(localityPattern),
          to: map(int(undefined, undefined, (w: number, path, r) => {
            if (w <= 0 || w > 100) r.report(S, path, `${path}: locality weight must be in range [1, 100]`);
          }), (to: Record<string, number>, path, r) => {
            for (const k of Object.keys(to)) localityPattern(k, joinPath(path, k), r);
            const total = Object.values(to).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
            if (total !== 100) r.report(S, path, `${path}: total locality weight ${total} != 100`);
          }),
        },
        { required: ['from', 'to'] },
      ),
    ),
    failover: arr(
      obj({ from: str(failoverRegion), to: str(failoverRegion) }, {
        required: ['from', 'to'],
        check: (f: { from?: string; to?: string }, path, r) => {
          if (f.from !== undefined && f.from === f.to) r.report(S, path, `${path}: locality lb failover settings must specify different regions`);
        },
      }),
    ),
    failoverPriority: arr(str()),
  },
  {
    check: (v: { distribute?: unknown[]; failover?: unknown[]; failoverPriority?: string[] }, path, r) => {
      if ((v.distribute?.length ?? 0) > 0 && (v.failover?.length ?? 0) > 0) r.report(S, path, `${path}: can not simultaneously specify 'distribute' and 'failover'`);
      if ((v.failover?.length ?? 0) > 0) {
        const topo = (v.failoverPriority ?? []).find((l) => TOPOLOGY_LABELS.includes(l));
        if (topo) r.report(S, path, `${path}: can not simultaneously set 'failover' and topology label '${topo}' in 'failoverPriority'`);
      }
    },
  },
);

const loadBalancer: Rule = obj(
  {
    simple: oneOfEnum(['LEAST_REQUEST', 'ROUND_ROBIN', 'RANDOM', 'UNSPECIFIED'], {
      deprecated: { LEAST_CONN: 'LEAST_REQUEST' },
      unsupported: { PASSTHROUGH: 'the sidecar always picks an endpoint itself' },
    }),
    consistentHash,
    localityLbSetting,
  },
  {
    unsupported: {
      zoneAwareLbSetting: 'not implemented; use localityLbSetting',
      warmupDurationSecs: '',
      warmup: '',
      backendUtilization: 'no ORCA load reports in the lab',
    },
    // Istio's validateLoadBalancer rules for warmup, checked although meshlab does not warm up.
    unsupportedRules: {
      warmup: obj(
        {
          duration: dur(),
          minimumPercent: num(0, 100),
          aggression: num(undefined, undefined, (v: number, path, r) => {
            if (v <= 0) r.report(S, path, `${path}: aggression should be greater than 0`);
          }),
        },
        { required: ['duration'] },
      ),
    },
    check: atMostOne(['simple', 'consistentHash'], 'load balancer'),
  },
);

const connectionPool: Rule = obj(
  {
  tcp: obj(
    {
      maxConnections: int(0),
      connectTimeout: dur(),
      // Node sets SO_KEEPALIVE and TCP_KEEPIDLE only (socket.setKeepAlive(true, time)): probes and interval stay the kernel's.
      tcpKeepalive: obj({ time: dur() }, { unsupported: { probes: "Node's sockets cannot set TCP_KEEPCNT", interval: "Node's sockets cannot set TCP_KEEPINTVL" } }),
      // Envoy's tcp_proxy idle_timeout for TCP routes (mesh/tcp/); 0s disables it.
      idleTimeout: dur({ allowZero: true }),
    },
    { unsupported: { maxConnectionDuration: 'the upstream pools do not cap a connection\'s age' } },
  ),
  http: obj(
    {
      http1MaxPendingRequests: int(0),
      http2MaxRequests: int(0),
      maxRequestsPerConnection: int(0),
      maxRetries: int(0),
      idleTimeout: dur(),
    },
    { unsupported: { h2UpgradePolicy: 'the lab speaks HTTP/1.1 only', useClientProtocol: '', maxConcurrentStreams: '', http2KeepAlive: 'the lab speaks HTTP/1.1 only' } },
  ),
  },
  { check: notEmpty('connection pool') },
);

const outlierDetection: Rule = obj(
  {
    consecutive5xxErrors: int(0),
    consecutiveGatewayErrors: int(0),
    consecutiveErrors: int(0),
    interval: dur(),
    baseEjectionTime: dur(),
    maxEjectionPercent: int(0, 100),
    minHealthPercent: int(0, 100),
    splitExternalLocalOriginErrors: bool,
    consecutiveLocalOriginFailures: int(0),
  },
  {
    unsupported: { outlierDetectionHttpErrorCodes: '' },
    check: (v: Record<string, unknown>, path, r) => {
      if (v.consecutiveErrors === undefined) return;
      const p = joinPath(path, 'consecutiveErrors');
      if (v.consecutiveGatewayErrors !== undefined) {
        r.report(S, p, `${p}: set consecutiveGatewayErrors only (consecutiveErrors is its deprecated form)`);
      } else {
        r.report(Codes.SchemaWarning, p, `${p} is deprecated and means consecutiveGatewayErrors (502/503/504) here; use consecutive5xxErrors or consecutiveGatewayErrors`);
      }
    },
  },
);

// SIMPLE / MUTUAL are TLS origination to a host outside the mesh (mesh/egress/tls-origination.ts): files the
// sidecar reads, as Envoy reads the paths Istio puts in its UpstreamTlsContext. Secrets (credentialName) are not run.
const tls: Rule = obj(
  {
    mode: oneOfEnum(['ISTIO_MUTUAL', 'DISABLE', 'SIMPLE', 'MUTUAL']),
    clientCertificate: anyStr,
    privateKey: anyStr,
    caCertificates: anyStr,
    subjectAltNames: arr(anyStr),
    sni: anyStr,
    insecureSkipVerify: bool,
  },
  {
    unsupported: {
      credentialName: 'meshlab reads no Kubernetes Secrets: give the files (clientCertificate, privateKey, caCertificates)',
      caCrl: '',
    },
    // Istio's validateTLSSettings: MUTUAL needs a client certificate and key (or a credentialName).
    check: (v: Record<string, unknown>, path, r) => {
      if (v.mode === 'MUTUAL' && v.credentialName === undefined) {
        if (!v.clientCertificate) r.report(S, joinPath(path, 'clientCertificate'), `${joinPath(path, 'clientCertificate')}: client certificate required for mutual tls`);
        if (!v.privateKey) r.report(S, joinPath(path, 'privateKey'), `${joinPath(path, 'privateKey')}: private key required for mutual tls`);
      }
    },
  },
);

// Per-port policy: run for ServiceEntry hosts, whose ports are clusters of their own (a mesh service has one
// port in the lab: apply refuses it there, mesh/egress/runtime-support.ts). Istio: each entry needs its port.
const portTrafficPolicy: Rule = obj(
  { port: obj({ number: int(1, 65535) }, { required: ['number'] }), loadBalancer, connectionPool, outlierDetection, tls },
  { required: ['port'] },
);

export const trafficPolicy: Rule = obj(
  { loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings: arr(portTrafficPolicy) },
  {
    unsupported: { tunnel: '', proxyProtocol: '', retryBudget: '' },
    check: (v: { loadBalancer?: { localityLbSetting?: { failover?: unknown[]; failoverPriority?: unknown[] } }; outlierDetection?: unknown }, path, r) => {
      notEmpty('traffic policy')(v, path, r);
      const l = v.loadBalancer?.localityLbSetting;
      if (l && ((l.failover?.length ?? 0) > 0 || (l.failoverPriority?.length ?? 0) > 0) && v.outlierDetection === undefined) {
        const p = joinPath(joinPath(path, 'loadBalancer'), 'localityLbSetting');
        r.report(Codes.SchemaWarning, p, `${p}: outlier detection policy must be provided for failover (without outlierDetection Istio sends no locality priorities: failover never happens)`);
      }
    },
  },
);

const dnsLabel: Check = (v: string, path, r) => {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) {
    r.report(S, path, `${path}: subset name ${JSON.stringify(v)} must be a DNS label (lower-case letters, digits, '-')`);
  }
};

const uniqueSubsets: Check = (v: Array<{ name?: unknown }>, path, r) => {
  const seen = new Map<unknown, number>();
  v.forEach((s, i) => {
    if (s?.name === undefined) return;
    if (seen.has(s.name)) {
      const p = joinPath(joinPath(path, i), 'name');
      r.report(S, p, `${p}: duplicate subset name ${JSON.stringify(s.name)} (first at ${joinPath(path, seen.get(s.name)!)})`);
    } else seen.set(s.name, i);
  });
};

const subset: Rule = obj({ name: str(dnsLabel), labels, trafficPolicy }, { required: ['name'] });

export const destinationRuleSpec: Rule = obj(
  { host: str(meshHost), trafficPolicy, subsets: arr(subset, uniqueSubsets), exportTo },
  { required: ['host'], unsupported: { workloadSelector: 'a DestinationRule applies to every caller in meshlab' } },
);
