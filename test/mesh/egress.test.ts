import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Upstream, startSidecar, push, call, closeAgent, metric, adminGet, many } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import { MailProvider } from '../../world/external/mail-provider';
import { createProviderPki, type ProviderPki } from '../../world/external/provider-pki';

/**
 * Egress (issue #17 part 1): ServiceEntry hosts become clusters, hosts nobody declared go to PassthroughCluster
 * (ALLOW_ANY) or get Istio's block_all 502 (REGISTRY_ONLY), a Sidecar's egress.hosts scopes what a workload
 * sees, and a DestinationRule originates TLS to the external server — verified on the server's side.
 */

const registryOnly = (egress = '') => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
${egress}`;

const serviceEntry = (opts: { port: number; targetPort?: number; resolution?: string; address?: string; host?: string; exportTo?: string }) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: mail-provider, namespace: default }
spec:
  hosts: [${opts.host ?? 'api.mail.example'}]
  location: MESH_EXTERNAL
  ports: [{ number: 80, name: http, protocol: HTTP${opts.targetPort ? `, targetPort: ${opts.targetPort}` : ''} }]
  resolution: ${opts.resolution ?? 'STATIC'}
  ${opts.exportTo ? `exportTo: ["${opts.exportTo}"]` : ''}
  endpoints: [{ address: ${opts.address ?? '127.0.0.1'}, ports: { http: ${opts.port} } }]
`;

describe('egress: ServiceEntry, outbound traffic policy, Sidecar scope', () => {
  let sidecar: Sidecar;
  const ext = new Upstream('mail-provider', 'external');
  const pay = new Upstream('payments-v1-0', 'v1');

  beforeAll(async () => {
    await Promise.all([ext.start(), pay.start()]);
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await Promise.all([ext.stop(), pay.stop()]);
    closeAgent();
  });

  test('REGISTRY_ONLY: 20 calls to an undeclared external host get 502 from block_all (BlackHoleCluster, no flag, direct_response), 0 reach it; a ServiceEntry opens it: 20 × 200', async () => {
    push(sidecar, registryOnly(), { payments: [pay.endpoint()] });
    const before = ext.seen.length;
    const blocked = await many(20, 4, () => call(sidecar.ports.outbound, '/v1/messages', { host: 'api.mail.example', method: 'POST', body: '{}' }));
    expect(blocked.map((a) => a.status)).toEqual(Array(20).fill(502));
    expect(ext.seen.length).toBe(before);
    const log = sidecar.accessLog.entries().filter((e) => e.authority === 'api.mail.example');
    expect(log).toHaveLength(20);
    expect(log[0]).toMatchObject({ response_code: 502, response_flags: '-', response_code_details: 'direct_response', route_name: 'block_all', upstream_cluster: 'BlackHoleCluster' });
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'istio_requests_total', { destination_service_name: 'BlackHoleCluster', response_code: '502' })).toBe(20);
    // A mesh service stays reachable under REGISTRY_ONLY: it is in the registry.
    expect((await call(sidecar.ports.outbound, '/x', { host: 'payments' })).status).toBe(200);

    push(sidecar, registryOnly() + serviceEntry({ port: ext.port }), { payments: [pay.endpoint()] });
    const open = await many(20, 4, () => call(sidecar.ports.outbound, '/v1/messages', { host: 'api.mail.example', method: 'POST', body: '{}' }));
    expect(open.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(ext.seen.length).toBe(before + 20);
    expect(ext.seen.at(-1)?.headers.host).toBe('api.mail.example');
    const ok = sidecar.accessLog.entries().filter((e) => e.authority === 'api.mail.example' && e.response_code === 200);
    expect(ok[0]).toMatchObject({ upstream_cluster: 'outbound|80||api.mail.example', upstream_host: `127.0.0.1:${ext.port}` });
    const m2 = await adminGet(sidecar, '/metrics');
    expect(metric(m2, 'istio_requests_total', { destination_service: 'api.mail.example', destination_service_name: 'api.mail.example', destination_service_namespace: 'default', response_code: '200' })).toBe(20);
  });

  test('ALLOW_ANY (the default): an undeclared address passes through PassthroughCluster (10 × 200 by IP, 1 by localhost, counted as such); a name only DNS could resolve (or an unknown service) is 404 NR, no lookup made', async () => {
    push(sidecar, '', { payments: [pay.endpoint()] });
    const before = ext.seen.length;
    const through = await many(10, 2, () => call(sidecar.ports.outbound, '/pass', { host: `127.0.0.1:${ext.port}` }));
    expect(through.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(ext.seen.length).toBe(before + 10);
    const e = sidecar.accessLog.entries().filter((x) => x.path === '/pass');
    expect(e[0]).toMatchObject({ route_name: 'allow_any', upstream_cluster: 'PassthroughCluster', response_flags: '-' });
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'istio_requests_total', { destination_service: '127.0.0.1', destination_service_name: 'PassthroughCluster', response_code: '200' })).toBe(10);
    expect((await call(sidecar.ports.outbound, '/pass-name', { host: `localhost:${ext.port}` })).status).toBe(200);
    expect(ext.seen.length).toBe(before + 11);
    for (const host of ['nosuch', 'api.mail.example']) {
      const nr = await call(sidecar.ports.outbound, '/nr', { host });
      expect(nr.status).toBe(404);
      expect(sidecar.accessLog.entries().filter((x) => x.path === '/nr').at(-1)).toMatchObject({ response_flags: 'NR', authority: host });
    }
  });

  test('DNS resolution: endpoint address `localhost` is resolved at connect time (5 × 200); with no endpoints the host itself is looked up (localhost:port)', async () => {
    push(sidecar, registryOnly() + serviceEntry({ port: ext.port, resolution: 'DNS', address: 'localhost' }), { payments: [pay.endpoint()] });
    const r = await many(5, 1, () => call(sidecar.ports.outbound, '/dns', { host: 'api.mail.example' }));
    expect(r.map((a) => a.status)).toEqual(Array(5).fill(200));
    const dnsOnly = `${registryOnly()}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: loopback }
spec:
  hosts: [localhost]
  ports: [{ number: ${ext.port}, name: http, protocol: HTTP }]
  resolution: DNS
`;
    push(sidecar, dnsOnly, { payments: [pay.endpoint()] });
    expect((await call(sidecar.ports.outbound, '/dns2', { host: `localhost:${ext.port}` })).status).toBe(200);
    // The same host on a port the entry does not declare is not in the registry.
    expect((await call(sidecar.ports.outbound, '/dns3', { host: `localhost:${pay.port}` })).status).toBe(502);
  });

  test('a VirtualService timeout applies to the ServiceEntry host: a 2 s stall is cut at 300 ms with 504 UT; retries on 503 reach it 3 times', async () => {
    const vs = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mail }
spec:
  hosts: [api.mail.example]
  http:
  - timeout: 0.3s
    retries: { attempts: 2, retryOn: 5xx }
    route: [{ destination: { host: api.mail.example } }]
`;
    push(sidecar, registryOnly() + serviceEntry({ port: ext.port }) + vs, { payments: [pay.endpoint()] });
    ext.behaviour = (_req, res) => {
      const stall = setTimeout(() => ext.ok(res), 2000);
      res.on('close', () => clearTimeout(stall));
    };
    const slow = await call(sidecar.ports.outbound, '/stall', { host: 'api.mail.example' });
    ext.behaviour = (_req, res) => ext.ok(res);
    expect(slow.status).toBe(504);
    expect(slow.ms).toBeGreaterThanOrEqual(295);
    expect(slow.ms).toBeLessThan(1500);
    expect(sidecar.accessLog.entries().find((e) => e.path === '/stall')).toMatchObject({ response_flags: 'UT', upstream_cluster: 'outbound|80||api.mail.example' });
    const before = ext.seen.length;
    ext.behaviour = (_req, res) => ext.ok(res, 503);
    const failing = await call(sidecar.ports.outbound, '/flaky', { host: 'api.mail.example' });
    ext.behaviour = (_req, res) => ext.ok(res);
    expect(failing.status).toBe(503);
    expect(ext.seen.length - before).toBe(3);
    expect(sidecar.accessLog.entries().find((e) => e.path === '/flaky')).toMatchObject({ attempts: 3, response_flags: 'URX' });
  });

  test('a fault and outlier detection apply to a ServiceEntry with 2 STATIC endpoints: abort 100% → 20 × 418 FI, none sent; the endpoint failing 5 × 503 is ejected and the next 20 calls all reach the other', async () => {
    const bad = await new Upstream('mail-b', 'external').start();
    try {
      bad.behaviour = (_req, res) => bad.ok(res, 503);
      const two = (extra: string) => `${registryOnly()}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: mail-provider }
spec:
  hosts: [api.mail.example]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${ext.port} } }, { address: 127.0.0.1, ports: { http: ${bad.port} } }]
${extra}`;
      push(sidecar, two(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mail }
spec:
  hosts: [api.mail.example]
  http:
  - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: { host: api.mail.example } }]
`), {});
      const before = ext.seen.length + bad.seen.length;
      const aborted = await many(20, 4, () => call(sidecar.ports.outbound, '/fault', { host: 'api.mail.example' }));
      expect(aborted.map((a) => a.status)).toEqual(Array(20).fill(418));
      expect(ext.seen.length + bad.seen.length).toBe(before);
      expect(sidecar.accessLog.entries().filter((e) => e.path === '/fault' && e.response_flags === 'FI')).toHaveLength(20);

      push(sidecar, two(`---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: mail }
spec:
  host: api.mail.example
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 60s, maxEjectionPercent: 100 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mail }
spec:
  hosts: [api.mail.example]
  http:
  - retries: { attempts: 0 }
    route: [{ destination: { host: api.mail.example } }]
`), {});
      const warm = await many(10, 1, () => call(sidecar.ports.outbound, '/od', { host: 'api.mail.example' }));
      expect(warm.filter((a) => a.status === 503)).toHaveLength(5);
      const badBefore = bad.seen.length;
      const after = await many(20, 2, () => call(sidecar.ports.outbound, '/od2', { host: 'api.mail.example' }));
      expect(after.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(bad.seen.length).toBe(badBefore);
      const clusters = JSON.parse(await adminGet(sidecar, '/clusters')) as { name: string; hosts: { address: string; ejected: boolean }[] }[];
      expect(clusters.find((c) => c.name === 'outbound|80||api.mail.example')?.hosts.find((h) => h.address === `127.0.0.1:${bad.port}`)?.ejected).toBe(true);
    } finally {
      await bad.stop();
    }
  });

  test('Sidecar egress.hosts scopes the registry: with only istio-system/* the mesh service payments and the ServiceEntry are out of scope (502 under REGISTRY_ONLY); with ./* both are back (200)', async () => {
    const narrow = registryOnly(`  egress: [{ hosts: ["istio-system/*"] }]\n`) + serviceEntry({ port: ext.port });
    push(sidecar, narrow, { payments: [pay.endpoint()] });
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'payments' })).status).toBe(502);
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'api.mail.example' })).status).toBe(502);
    const wide = registryOnly(`  egress: [{ hosts: ["./*"] }]\n`) + serviceEntry({ port: ext.port });
    push(sidecar, wide, { payments: [pay.endpoint()] });
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'payments' })).status).toBe(200);
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'api.mail.example' })).status).toBe(200);
    const exact = registryOnly(`  egress: [{ hosts: ["default/api.mail.example"] }]\n`) + serviceEntry({ port: ext.port });
    push(sidecar, exact, { payments: [pay.endpoint()] });
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'payments' })).status).toBe(502);
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'api.mail.example' })).status).toBe(200);
    // A ServiceEntry exported to another namespace only is not in this workload's registry.
    push(sidecar, registryOnly() + serviceEntry({ port: ext.port, exportTo: 'shop' }), { payments: [pay.endpoint()] });
    expect((await call(sidecar.ports.outbound, '/scoped', { host: 'api.mail.example' })).status).toBe(502);
  });
});

describe('egress: TLS origination (DestinationRule tls SIMPLE / MUTUAL) verified by the external server', () => {
  let sidecar: Sidecar;
  let provider: MailProvider;
  let pki: ProviderPki;
  let other: ProviderPki;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-egress-'));
    pki = await createProviderPki(path.join(dir, 'provider'), 'api.mail.example');
    other = await createProviderPki(path.join(dir, 'other'), 'api.mail.example', 'x', 'some other root CA');
    provider = await new MailProvider({ tls: { cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caPem }, seed: 3 }).start();
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar?.stop(200);
    await provider?.stop();
    closeAgent();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = (tls: string) => registryOnly() + serviceEntry({ port: provider.ports.tls }) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: mail }
spec:
  host: api.mail.example
  trafficPolicy:
    tls: ${tls}
`;

  test('SIMPLE: the app speaks plain HTTP, the provider sees 10 TLS requests with SNI api.mail.example and no client certificate', async () => {
    push(sidecar, config(`{ mode: SIMPLE, caCertificates: ${pki.caFile} }`), {});
    const r = await many(10, 2, () => call(sidecar.ports.outbound, '/v1/messages', { host: 'api.mail.example', method: 'POST', body: '{"to":"u-1"}' }));
    expect(r.map((a) => a.status)).toEqual(Array(10).fill(202));
    const seen = provider.log.filter((e) => e.path === '/v1/messages');
    expect(seen).toHaveLength(10);
    expect(seen.every((e) => e.tls && e.port === 'tls' && e.sni === 'api.mail.example' && e.client_cert_cn === null)).toBe(true);
  });

  test('MUTUAL: the provider sees the client certificate it issued (CN meshlab-notifications) on 5 of 5 requests, and the `sni` as written (relay.mail.example); the SAN checked is subjectAltNames\' api.mail.example', async () => {
    const before = provider.log.length;
    push(sidecar, config(`{ mode: MUTUAL, caCertificates: ${pki.caFile}, clientCertificate: ${pki.clientCertFile}, privateKey: ${pki.clientKeyFile}, sni: relay.mail.example, subjectAltNames: [api.mail.example] }`), {});
    const r = await many(5, 1, () => call(sidecar.ports.outbound, '/v1/messages', { host: 'api.mail.example', method: 'POST', body: '{}' }));
    expect(r.map((a) => a.status)).toEqual(Array(5).fill(202));
    const seen = provider.log.slice(before);
    expect(seen.map((e) => e.client_cert_cn)).toEqual(Array(5).fill('meshlab-notifications'));
    expect(seen.map((e) => e.sni)).toEqual(Array(5).fill('relay.mail.example'));
  });

  test('insecureSkipVerify: a server certificate from an unknown CA is accepted (3 × 202) where caCertificates alone fails it', async () => {
    push(sidecar, config(`{ mode: SIMPLE, caCertificates: ${other.caFile}, insecureSkipVerify: true }`), {});
    const r = await many(3, 1, () => call(sidecar.ports.outbound, '/skip', { host: 'api.mail.example' }));
    expect(r.map((a) => a.status)).toEqual(Array(3).fill(202));
  });

  test('a wrong CA fails the connection: 503 UF (and URX: Istio\'s default 2 retries on connect-failure, 3 attempts), upstream_transport_failure_reason CERTIFICATE_VERIFY_FAILED, 0 requests reach the provider; so does a wrong subjectAltName', async () => {
    const before = provider.log.length;
    push(sidecar, config(`{ mode: SIMPLE, caCertificates: ${other.caFile} }`), {});
    const bad = await call(sidecar.ports.outbound, '/wrong-ca', { host: 'api.mail.example' });
    expect(bad.status).toBe(503);
    const e = sidecar.accessLog.entries().find((x) => x.path === '/wrong-ca');
    expect(e).toMatchObject({ response_flags: 'UF,URX', attempts: 3, upstream_transport_failure_reason: 'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end' });
    expect(e?.response_code_details).toContain('CERTIFICATE_VERIFY_FAILED');
    push(sidecar, config(`{ mode: SIMPLE, caCertificates: ${pki.caFile}, subjectAltNames: [smtp.other.example] }`), {});
    const san = await call(sidecar.ports.outbound, '/wrong-san', { host: 'api.mail.example' });
    expect(san.status).toBe(503);
    expect(sidecar.accessLog.entries().find((x) => x.path === '/wrong-san')).toMatchObject({ response_flags: 'UF,URX', upstream_transport_failure_reason: expect.stringContaining('CERTIFICATE_VERIFY_FAILED') });
    expect(provider.log.length).toBe(before);
  });

  test('portLevelSettings: one host, two ports — port 80 originates TLS (5 requests on the provider\'s TLS port), port 8080 stays plain (5 on its HTTP port)', async () => {
    const before = provider.log.length;
    push(sidecar, `${registryOnly()}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: mail-provider }
spec:
  hosts: [api.mail.example]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 8080, name: plain, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${provider.ports.tls}, plain: ${provider.ports.http} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: mail }
spec:
  host: api.mail.example
  trafficPolicy:
    portLevelSettings:
    - port: { number: 80 }
      tls: { mode: SIMPLE, caCertificates: ${pki.caFile} }
`, {});
    const tlsCalls = await many(5, 1, () => call(sidecar.ports.outbound, '/p80', { host: 'api.mail.example' }));
    const plainCalls = await many(5, 1, () => call(sidecar.ports.outbound, '/p8080', { host: 'api.mail.example:8080' }));
    expect([...tlsCalls, ...plainCalls].map((a) => a.status)).toEqual(Array(10).fill(202));
    const seen = provider.log.slice(before);
    expect(seen.filter((e) => e.path === '/p80').map((e) => e.port)).toEqual(Array(5).fill('tls'));
    expect(seen.filter((e) => e.path === '/p8080').map((e) => e.port)).toEqual(Array(5).fill('http'));
    expect(sidecar.accessLog.entries().find((e) => e.path === '/p8080')?.upstream_cluster).toBe('outbound|8080||api.mail.example');
  });

  test('a caCertificates file that cannot be read is a NACK naming the field; the config in force stays', async () => {
    push(sidecar, config(`{ mode: SIMPLE, caCertificates: ${pki.caFile} }`), {});
    expect(() => push(sidecar, config(`{ mode: SIMPLE, caCertificates: ${path.join(dir, 'missing.pem')} }`), {})).toThrow(/caCertificates: cannot read .*missing\.pem: ENOENT/);
    expect((await call(sidecar.ports.outbound, '/still', { host: 'api.mail.example' })).status).toBe(202);
  });
});
