import { instanceOf, slowestFromTraces, standsOut } from '../../scenarios/slow-hop';
import type { ZipkinSpan } from '../../mesh/telemetry/zipkin';

/** One order's trace as the sidecars report it (ids shared across each hop), with payments served by `instance` in `paymentsMs`. */
function trace(n: number, instance: string, paymentsMs: number, ordersMs = 2): ZipkinSpan[] {
  const id = (k: number) => `${n.toString(16).padStart(12, '0')}000${k}`;
  const node = (i: string) => ({ node_id: `sidecar~127.0.0.1~${i}.default~default.svc.cluster.local` });
  const sp = (k: number, parent: number | undefined, kind: string, service: string, inst: string, us: number): ZipkinSpan => ({ traceId: 't'.repeat(32), id: id(k), parentId: parent === undefined ? undefined : id(parent), name: 'x', kind, timestamp: 0, duration: us, localEndpoint: { serviceName: service }, tags: node(inst) });
  const pay = paymentsMs * 1000;
  return [
    sp(1, undefined, 'CLIENT', 'istio-ingressgateway-v1', 'gateway', pay + ordersMs * 1000 + 900),
    sp(1, undefined, 'SERVER', 'orders-v1', 'orders-v1-0', pay + ordersMs * 1000 + 600),
    sp(2, 1, 'CLIENT', 'orders-v1', 'orders-v1-0', pay + 400),
    sp(2, 1, 'SERVER', instance.startsWith('payments-v2') ? 'payments-v2' : 'payments-v1', instance, pay),
  ];
}

describe('slow-hop reads the culprit off the traces', () => {
  test('the instance of node_id', () => {
    expect(instanceOf(trace(1, 'payments-v1-1', 3)[3])).toBe('payments-v1-1');
  });

  test('20 slow traces via payments-v1-1 among 180 fast ones: payments-v1-1 has the slowest payments spans (p50 by instance), and the most own time in the slowest tenth', () => {
    const traces = [...Array.from({ length: 180 }, (_, i) => trace(i, i % 2 ? 'payments-v1-0' : 'payments-v2-0', 2, 4)), ...Array.from({ length: 20 }, (_, i) => trace(1000 + i, 'payments-v1-1', 300))];
    const r = slowestFromTraces(traces);
    expect(r.culprit).toBe('payments-v1-1');
    expect(r.selfTimeWins).toEqual({ 'payments-v1-1': 20 });
    expect(r.serverP50).toEqual({ 'payments-v1-0': 2, 'payments-v2-0': 2, 'payments-v1-1': 300 });
  });

  test('the lab can fail: when payments is fast everywhere and orders is slow, no payments instance is slow (the lab\'s ≥ 300 ms check fails) and the own time is orders\'', () => {
    const traces = Array.from({ length: 50 }, (_, i) => trace(i, ['payments-v1-0', 'payments-v1-1', 'payments-v2-0'][i % 3], 2, 250));
    const r = slowestFromTraces(traces);
    expect(r.culprit).toBe('none');
    expect(r.serverP50).toEqual({ 'payments-v1-0': 2, 'payments-v1-1': 2, 'payments-v2-0': 2 });
    expect(Object.keys(r.selfTimeWins)).toEqual(['orders-v1-0']);
  });

  test('a culprit is named only when it stands out (≥ 100 ms and 2× above every other p50): 300 vs 4 and 2 ms names it; 9, 4 and 2 ms, or 320 vs 230, name none', () => {
    expect(standsOut({ 'payments-v1-0': 4, 'payments-v1-1': 300, 'payments-v2-0': 2 })).toBe('payments-v1-1');
    expect(standsOut({ 'payments-v1-0': 4, 'payments-v1-1': 9, 'payments-v2-0': 2 })).toBe('none');
    expect(standsOut({ 'payments-v1-0': 230, 'payments-v1-1': 320, 'payments-v2-0': 2 })).toBe('none');
    expect(standsOut({})).toBe('none');
  });
});
