import { ConfigRejectedError, ConfigStore } from '../../mesh/config/store';
import { loadYaml } from '../../mesh/config/load';
import type { MeshResource } from '../../mesh/config/types';
import { DR_PAYMENTS, vs } from './helpers';

const load = (text: string): MeshResource[] => {
  const r = loadYaml(text, 's.yaml');
  expect(r.messages).toEqual([]);
  return r.resources;
};

const VS_V2 = vs(`  - route:
    - destination:
        host: payments
        subset: v2
`);
const VS_V3 = VS_V2.replace('subset: v2', 'subset: v3');
const VS_ORDERS = vs(`  - route:
    - destination:
        host: orders
`, 'orders', 'orders');

describe('ConfigStore: all-or-nothing apply with a monotonically increasing version', () => {
  test('apply commits valid sets and bumps the version', () => {
    const store = new ConfigStore();
    const seen: number[] = [];
    store.onChange((v) => seen.push(v));
    expect(store.version).toBe(0);
    expect(store.apply(load(DR_PAYMENTS)).version).toBe(1);
    expect(store.apply(load(VS_V2)).version).toBe(2);
    expect(store.list().map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['DestinationRule/payments', 'VirtualService/payments']);
    expect(store.list('VirtualService')).toHaveLength(1);
    expect(store.get('DestinationRule', 'payments')?.metadata.namespace).toBe('default');
    expect(seen).toEqual([1, 2]);
  });

  test('a batch with one invalid resource applies nothing and carries the messages', () => {
    const store = new ConfigStore();
    store.apply(load(DR_PAYMENTS));
    let err: unknown;
    try {
      store.apply([...load(VS_ORDERS), ...load(VS_V3)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigRejectedError);
    const rejected = err as ConfigRejectedError;
    expect(rejected.messages.map((m) => m.code)).toEqual(['IST0101']);
    expect(rejected.message).toMatch(/configuration rejected \(1 error\(s\)\); nothing was applied:\nError \[IST0101\] \(VirtualService default\/payments s.yaml:12\)/);
    expect(store.version).toBe(1);
    expect(store.list().map((r) => r.metadata.name)).toEqual(['payments']); // orders VS not half-applied
  });

  test('the resulting set is validated: deleting a DestinationRule still referenced is rejected', () => {
    const store = new ConfigStore();
    store.apply([...load(DR_PAYMENTS), ...load(VS_V2)]);
    expect(() => store.delete([{ kind: 'DestinationRule', name: 'payments' }])).toThrow(ConfigRejectedError);
    expect(store.version).toBe(1);
    expect(store.delete([{ kind: 'VirtualService', name: 'payments' }]).version).toBe(2);
    expect(store.delete([{ kind: 'DestinationRule', name: 'payments', namespace: 'default' }]).version).toBe(3);
    expect(store.list()).toEqual([]);
    expect(() => store.delete([{ kind: 'VirtualService', name: 'gone' }])).toThrow('cannot delete: not found: VirtualService default/gone');
  });

  test('re-applying a resource replaces it; a duplicate within one batch is rejected', () => {
    const store = new ConfigStore();
    store.apply([...load(DR_PAYMENTS), ...load(VS_V2)]);
    const v1 = VS_V2.replace('subset: v2', 'subset: v1');
    store.apply(load(v1));
    expect((store.get('VirtualService', 'payments')?.spec as { http: Array<{ route: Array<{ destination: { subset: string } }> }> }).http[0].route[0].destination.subset).toBe('v1');
    expect(() => store.apply([...load(v1), ...load(VS_V2)])).toThrow(/ML0006/);
    expect(store.version).toBe(2);
  });

  test('warnings do not block; they are returned', () => {
    const store = new ConfigStore({ instances: [{ service: 'payments', labels: { version: 'v1' } }, { service: 'payments', labels: { version: 'v2' } }] });
    const dr = DR_PAYMENTS.replace('  subsets:', '  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n  subsets:');
    const res = store.apply(load(dr));
    expect(res.version).toBe(1);
    expect(res.messages.map((m) => [m.code, m.level])).toEqual([
      ['ML0004', 'Warning'],
      ['ML0004', 'Warning'],
      ['ML0004', 'Warning'],
    ]);
  });

  test('replaceAll swaps the whole set atomically', () => {
    const store = new ConfigStore();
    store.apply([...load(DR_PAYMENTS), ...load(VS_V2)]);
    expect(() => store.replaceAll(load(VS_V2))).toThrow(ConfigRejectedError); // v2 needs the DR
    expect(store.list()).toHaveLength(2);
    expect(store.replaceAll(load(VS_ORDERS)).version).toBe(2);
    expect(store.list().map((r) => r.metadata.name)).toEqual(['orders']);
  });

  test('applyLoaded rejects a batch whose file had a YAML error, even if other documents were fine', () => {
    const store = new ConfigStore();
    const loaded = loadYaml(`${DR_PAYMENTS}---\nkind: [broken\n`, 'mixed.yaml');
    expect(loaded.resources).toHaveLength(1);
    expect(() => store.applyLoaded(loaded)).toThrow(/ML0001/);
    expect(store.version).toBe(0);
    expect(store.list()).toEqual([]);
    expect(store.applyLoaded(loadYaml(DR_PAYMENTS, 'ok.yaml'), { replaceAll: true }).version).toBe(1);
  });
});
