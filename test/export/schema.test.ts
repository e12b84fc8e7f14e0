/**
 * Every exported manifest against the official schemas: Kubernetes objects with kubernetes-models
 * (Kubernetes' OpenAPI for apps/v1 and v1), Istio objects with @kubernetes-models/istio and with the
 * openAPIV3Schema of Istio's CRDs (crd-all.gen.yaml) under strict field validation.
 */
import { kubernetesExport } from '../../world/kubernetes-export';
import { DEFAULT_TOPOLOGY } from '../../world/topology';
import { istioCrdValidators, objectsOf, ref, validateWithModels, type K8sObject } from './helpers';

const isIstio = (o: K8sObject): boolean => o.apiVersion.split('/')[0].endsWith('.istio.io');

describe('exported manifests against the official schemas', () => {
  // Both namespaces: the default and a named one (-n shop) must both be valid objects.
  const exports = [kubernetesExport(), kubernetesExport(undefined, { namespace: 'shop' })];
  const objects = exports.flatMap((e) => objectsOf(e.files)).filter((o) => o.kind !== 'Kustomization');
  const bare = objects.map(({ file: _file, ...o }) => o);

  let validators: ReturnType<typeof istioCrdValidators>;
  beforeAll(() => {
    validators = istioCrdValidators();
  });

  it('each namespace gets 19 Kubernetes objects (Namespace, PVC, Kafka 2, RabbitMQ 2, per service SA + Service + a Deployment per version, ingress 3) and 7 Istio ones', () => {
    const perService = DEFAULT_TOPOLOGY.services.reduce((n, s) => n + 2 + Object.keys(s.versions).length, 0);
    expect(perService).toBe(10);
    expect(objects.filter((o) => !isIstio(o)).length).toBe(2 * (1 + 1 + 2 + 2 + perService + 3));
    // config/default's DestinationRule, AuthorizationPolicy, RequestAuthentication, the ingress Gateway and VirtualService.
    expect(objects.filter(isIstio).map(ref).slice(0, 5).sort()).toEqual(['AuthorizationPolicy/payments', 'DestinationRule/payments', 'Gateway/meshlab-gateway', 'RequestAuthentication/meshlab-issuer', 'VirtualService/meshlab-ingress']);
    // …and the mail provider's ServiceEntry and DestinationRule (egress/).
    expect(objects.filter(isIstio).map(ref).slice(5, 7)).toEqual(['ServiceEntry/mail-provider', 'DestinationRule/mail-provider']);
    expect(objects.length).toBe(2 * 26);
  });

  it('every object passes validate() of its kubernetes-models / @kubernetes-models/istio class', () => {
    const results = validateWithModels(bare);
    const failures = results.map((r, i) => ({ ...r, object: `${objects[i].file}: ${ref(objects[i])}` })).filter((r) => !r.ok);
    expect(failures).toEqual([]);
    expect(results.length).toBe(objects.length);
  });

  it('the model validator rejects what the API server rejects (a string containerPort, an Istio weight as text, a kind without a model)', () => {
    const deployment = bare.find((o) => o.kind === 'Deployment')!;
    const broken = JSON.parse(JSON.stringify(deployment)) as K8sObject;
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: { hosts: ['payments'], http: [{ route: [{ destination: { host: 'payments' }, weight: 'ten' }] }] } };
    const results = validateWithModels([broken, vs, { apiVersion: 'v1', kind: 'NoSuchKind', metadata: { name: 'x' } }]);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(results[0].error).toMatch(/containerPort must be integer/);
    expect(results[1].error).toMatch(/weight must be integer/);
  });

  it("every Istio object passes its CRD's openAPIV3Schema with unknown fields rejected", () => {
    const istio = objects.filter(isIstio);
    expect(istio.map(ref).sort()).toEqual([...new Set(istio.map(ref))].sort().flatMap((r) => [r, r]));
    const errors = istio.map((o) => {
      const check = validators.get(`${o.apiVersion}/${o.kind}`);
      const { file, ...doc } = o;
      return check ? check(doc) && `${file}: ${ref(o)}: ${check(doc)}` : `${file}: no CRD for ${o.apiVersion} ${o.kind}`;
    }).filter(Boolean);
    expect(errors).toEqual([]);
  });

  it('the CRD validator rejects an unknown field and a wrong type (it can fail)', () => {
    const vs = validators.get('networking.istio.io/v1/VirtualService')!;
    const base = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' } };
    expect(vs({ ...base, spec: { hosts: ['payments'], http: [{ route: [{ destination: { host: 'payments' } }] }] } })).toBeUndefined();
    expect(vs({ ...base, spec: { hosts: ['payments'], http: [{ retriez: {}, route: [{ destination: { host: 'payments' } }] }] } })).toMatch(/additional properties/);
    expect(vs({ ...base, spec: { hosts: 'payments' } })).toMatch(/must be array/);
  });
});
