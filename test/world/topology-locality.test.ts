import { DEFAULT_TOPOLOGY, instancesOf, localityLabels, withInstances } from '../../world/topology';

describe('the default topology spreads payments over two zones of one region', () => {
  test('orders, notifications and payments-v1-0 in region-1/zone-a; payments-v1-1 and payments-v2-0 in region-1/zone-b', () => {
    const where = Object.fromEntries(instancesOf(DEFAULT_TOPOLOGY).map((i) => [i.id, i.locality]));
    expect(where).toEqual({
      'orders-v1-0': 'region-1/zone-a',
      'payments-v1-0': 'region-1/zone-a',
      'payments-v1-1': 'region-1/zone-b',
      'payments-v2-0': 'region-1/zone-b',
      'notifications-v1-0': 'region-1/zone-a',
    });
  });

  test("an added instance no service places lands in the topology's locality", () => {
    const more = instancesOf(withInstances(DEFAULT_TOPOLOGY, 'payments', { v1: 3, v2: 1 }));
    expect(more.find((i) => i.id === 'payments-v1-2')!.locality).toBe('region-1/zone-a');
  });

  test("a locality becomes Istio's topology labels (region, zone, subzone), empty parts left out", () => {
    expect(localityLabels('region-1/zone-b/rack-7')).toEqual({
      'topology.kubernetes.io/region': 'region-1',
      'topology.kubernetes.io/zone': 'zone-b',
      'topology.istio.io/subzone': 'rack-7',
    });
    expect(localityLabels('region-1')).toEqual({ 'topology.kubernetes.io/region': 'region-1' });
    expect(localityLabels('')).toEqual({});
  });
});
