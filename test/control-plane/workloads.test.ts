import { Registry } from '../../mesh/control-plane/registry';
import { readWorkloads } from '../../mesh/control-plane/input';

/** Workloads without a sidecar (a broker beside the mesh): their endpoints reach every sidecar, through a caller's edge proxy where it has one. */
describe('POST /v1/workloads', () => {
  test('announced endpoints are in the snapshot under their service; a caller with an edge proxy sees the proxy address; an empty list removes them', () => {
    const r = new Registry();
    const input = readWorkloads({ service: 'rabbitmq', endpoints: [{ instance: 'rabbitmq-0', host: '127.0.0.1', port: 25672, labels: { app: 'rabbitmq' } }] });
    expect(input.ok).toBe(true);
    if (!input.ok) return;
    r.setWorkloads(input.value.service, input.value.endpoints);
    expect(r.snapshot().endpoints.rabbitmq).toEqual([{ instance: 'rabbitmq-0', service: 'rabbitmq', host: '127.0.0.1', port: 25672, labels: { app: 'rabbitmq' } }]);
    r.setEdges([{ from: 'orders', instance: 'rabbitmq-0', host: '127.0.0.1', port: 40001 }]);
    expect(r.snapshotFor('orders').endpoints.rabbitmq[0].port).toBe(40001);
    expect(r.snapshotFor('notifications').endpoints.rabbitmq[0].port).toBe(25672);
    r.setWorkloads('rabbitmq', []);
    expect(r.snapshot().endpoints.rabbitmq).toBeUndefined();
  });

  test('a malformed body is refused naming the bad endpoint', () => {
    const bad = readWorkloads({ service: 'rabbitmq', endpoints: [{ instance: 'rabbitmq-0', host: '127.0.0.1', port: 70000 }] });
    expect(bad).toEqual({ ok: false, error: expect.stringContaining('endpoints[0]') });
    expect(readWorkloads({ endpoints: [] })).toMatchObject({ ok: false });
  });
});
