import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze } from '../../mesh/config/analyze';
import { loadPath, loadYaml } from '../../mesh/config/load';
import { effectiveHostConfig, effectiveRoutes } from '../../mesh/config/effective';
import type { MeshResource } from '../../mesh/config/types';
import { REPO } from './helpers';

const SAMPLES = path.join(REPO, 'config/samples');

/** Loads files (relative to config/samples) and asserts no load or analysis messages at all. */
function loadClean(...files: string[]): MeshResource[] {
  const resources: MeshResource[] = [];
  for (const f of files) {
    const r = loadPath(path.join(SAMPLES, f));
    expect(r.messages).toEqual([]);
    resources.push(...r.resources);
  }
  expect(analyze(resources)).toEqual([]);
  return resources;
}

describe('Bookinfo-style samples load with no messages and route as Istio would', () => {
  test('destination-rule-all: subsets by version label', () => {
    const rs = loadClean('destination-rule-all.yaml');
    expect(rs.map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['DestinationRule/orders', 'DestinationRule/payments', 'DestinationRule/notifications']);
    const payments = effectiveHostConfig(rs, 'payments.default.svc.cluster.local');
    expect(payments.subsets.map((s) => [s.name, s.labels])).toEqual([
      ['v1', { version: 'v1' }],
      ['v2', { version: 'v2' }],
    ]);
    // No VirtualService: one default route to the host, 100%, Istio's default retries.
    expect(payments.routes).toEqual([
      {
        matches: [],
        destinations: [{ host: 'payments', weight: 100, percent: 100 }],
        timeoutMs: 0,
        retries: { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'], retriableStatusCodes: [] },
      },
    ]);
  });

  test('virtual-service-all-v1: every service pinned to subset v1', () => {
    const rs = loadClean('destination-rule-all.yaml', 'virtual-service-all-v1.yaml');
    for (const host of ['orders', 'payments', 'notifications']) {
      const routes = effectiveRoutes(rs, host);
      expect(routes).toHaveLength(1);
      expect(routes[0].matches).toEqual([]);
      expect(routes[0].destinations).toEqual([{ host, subset: 'v1', weight: 100, percent: 100 }]);
    }
  });

  test('virtual-service-payments-90-10: weights 90/10 to v1/v2', () => {
    const rs = loadClean('destination-rule-all.yaml', 'virtual-service-payments-90-10.yaml');
    const [r] = effectiveRoutes(rs, 'payments');
    expect(r.destinations.map((d) => [d.subset, d.weight, d.percent])).toEqual([
      ['v1', 90, 90],
      ['v2', 10, 10],
    ]);
  });

  test('virtual-service-payments-test-v2: end-user jason -> v2, everyone else -> v1', () => {
    const rs = loadClean('destination-rule-all.yaml', 'virtual-service-payments-test-v2.yaml');
    const routes = effectiveRoutes(rs, 'payments');
    expect(routes.map((r) => [r.matches, r.destinations.map((d) => d.subset)])).toEqual([
      [[{ headers: { 'end-user': { type: 'exact', value: 'jason' } }, queryParams: {}, withoutHeaders: {}, ignoreUriCase: false, sourceLabels: {} }], ['v2']],
      [[], ['v1']],
    ]);
  });

  test('virtual-service-payments-test-abort: jason gets HTTP 500 on 100% of requests', () => {
    const rs = loadClean('destination-rule-all.yaml', 'virtual-service-payments-test-abort.yaml');
    const routes = effectiveRoutes(rs, 'payments');
    expect(routes[0].matches[0].headers).toEqual({ 'end-user': { type: 'exact', value: 'jason' } });
    expect(routes[0].fault).toEqual({ abort: { httpStatus: 500, percent: 100 } });
    expect(routes[0].destinations.map((d) => d.subset)).toEqual(['v1']);
    expect(routes[1].fault).toBeUndefined();
  });

  test("circuit-breaking task's DestinationRule: limits of 1 and eager ejection", () => {
    const rs = loadClean('destination-rule-payments-circuit-breaker.yaml');
    const tp = effectiveHostConfig(rs, 'payments').trafficPolicy;
    expect(tp.connectionPool).toMatchObject({ maxConnections: 1, http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 });
    expect(tp.outlierDetection).toEqual({
      consecutive5xxErrors: 1,
      consecutiveGatewayErrors: 0,
      intervalMs: 1000,
      baseEjectionTimeMs: 180_000,
      maxEjectionPercent: 100,
      minHealthPercent: 0,
    });
    expect(tp.loadBalancer).toEqual({ type: 'LEAST_REQUEST' });
  });

  test('the default lab config (config/default) is valid: payments subsets, no split (every endpoint), the edge Gateway and its VirtualService', () => {
    const r = loadPath(path.join(REPO, 'config/default'));
    expect(r.messages).toEqual([]);
    const instances = [{ service: 'payments', labels: { version: 'v1' } }, { service: 'payments', labels: { version: 'v2' } }, { service: 'orders', labels: { version: 'v1' } }, { service: 'notifications', labels: { version: 'v1' } }];
    expect(analyze(r.resources, { instances })).toEqual([]);
    expect(effectiveRoutes(r.resources, 'payments')[0].destinations).toEqual([{ host: 'payments', weight: 100, percent: 100 }]);
  });

  test("api-gateway (the lab's YAML: Gateway with httpsRedirect, AuthorizationPolicy on requestPrincipals, claim-routing VirtualService, local rate limit EnvoyFilter) analyzes clean beside config/default's RequestAuthentication and DestinationRule", () => {
    const r = loadPath(path.join(SAMPLES, 'api-gateway.yaml'));
    expect(r.messages).toEqual([]);
    expect(r.resources.map((x) => x.kind)).toEqual(['Gateway', 'AuthorizationPolicy', 'VirtualService', 'EnvoyFilter']);
    const base = ['request-authentication.yaml', 'payments.yaml'].flatMap((f) => loadPath(path.join(REPO, 'config/default', f)).resources);
    const instances = [{ service: 'payments', labels: { version: 'v1' } }, { service: 'payments', labels: { version: 'v2' } }, { service: 'orders', labels: { version: 'v1' } }, { service: 'notifications', labels: { version: 'v1' } }];
    expect(analyze([...base, ...r.resources], { instances })).toEqual([]);
    // Without the RequestAuthentication, the claim route is IST0149, as istioctl says.
    expect(analyze(r.resources, { instances }).map((m) => m.code)).toContain('IST0149');
  });

  test("README's EnvoyFilter (The edge) is api-gateway.yaml's, byte for byte", () => {
    const sample = fs.readFileSync(path.join(SAMPLES, 'api-gateway.yaml'), 'utf8').split(/^---$/m).find((d) => /^kind: EnvoyFilter$/m.test(d))!;
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const block = /```yaml\n(apiVersion: networking\.istio\.io\/v1alpha3\nkind: EnvoyFilter[\s\S]*?)```/.exec(readme);
    expect(block?.[1].trim()).toBe(sample.slice(sample.indexOf('apiVersion')).trim());
  });

  test('the same samples load under v1alpha3 and v1beta1 apiVersions', () => {
    const text = fs.readFileSync(path.join(SAMPLES, 'virtual-service-payments-90-10.yaml'), 'utf8');
    for (const v of ['v1alpha3', 'v1beta1']) {
      const r = loadYaml(text.replace('networking.istio.io/v1', `networking.istio.io/${v}`), 'x.yaml');
      expect(r.messages).toEqual([]);
      expect(r.resources[0].apiVersion).toBe(`networking.istio.io/${v}`);
    }
  });
});
