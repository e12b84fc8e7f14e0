import { recoveryOf } from '../../scenarios/cascade';
import type { AccessLogEntry } from '../../mesh/access-log';

const CLUSTER = 'outbound|80||payments.default.svc.cluster.local';
const T0 = Date.parse('2026-12-06T12:00:00.000Z');

/** One access-log line of orders' sidecar: `at` ms after T0, lasting `ms`. */
function line(direction: 'inbound' | 'outbound', id: string, at: number, ms: number, code: number, flags = '-'): AccessLogEntry {
  return {
    start_time: new Date(T0 + at).toISOString(), route_name: '-', method: 'POST', path: direction === 'inbound' ? '/orders' : '/payments', protocol: 'HTTP/1.1',
    response_code: code, response_flags: flags, response_code_details: flags === 'UO' ? 'upstream_reset_before_response_started{overflow}' : 'via_upstream',
    bytes_received: 0, bytes_sent: 0, duration: Math.floor(ms), upstream_service_time: '-', user_agent: '-', request_id: id, authority: '-', upstream_host: '-', upstream_transport_failure_reason: '-',
    upstream_cluster: direction === 'inbound' ? 'inbound|app' : CLUSTER, direction, duration_ms: ms, upstream_instance: '-', x_request_id: id, attempts: 1,
    source_workload: '-', source_principal: '-', destination_principal: '-',
  };
}

/** A live order received at `at`: its inbound line and its payments call. */
const order = (id: string, at: number, ms: number, ok = true): AccessLogEntry[] => [line('inbound', id, at, ms + 1, ok ? 201 : 503), line('outbound', id, at, ms, ok ? 201 : 503, ok ? '-' : 'UO')];
/** A call of orders' reconciler (no order request behind it). */
const reconcile = (id: string, at: number, ms: number): AccessLogEntry => line('outbound', id, at, ms, 201);

describe('cascade judges recovery by the pool\'s own records', () => {
  test('4 reconciler calls + 3 live orders fill 7 slots: the 8th order\'s UO is the pool\'s job, and 3 of 3 orders it had room for are confirmed', () => {
    const log = [reconcile('r1', 0, 20), reconcile('r2', 0, 20), reconcile('r3', 1, 20), reconcile('r4', 1, 20), ...order('a', 2, 15), ...order('b', 2, 15), ...order('c', 3, 15), ...order('d', 5, 0.2, false)];
    const r = recoveryOf(log, CLUSTER, T0, 7);
    expect(r).toMatchObject({ received: 4, confirmed: 3, refusedFull: 1, unexplained: [] });
    expect(r.refusals).toEqual([{ at: T0 + 5, live: 3, reconciler: 4 }]);
  });

  test('a UO with 2 of 7 slots taken (a slot never given back) is unexplained: 2 of 3 confirmed, 67% < 99%', () => {
    const log = [...order('a', 0, 20), ...order('b', 1, 20), ...order('c', 5, 0.2, false)];
    const r = recoveryOf(log, CLUSTER, T0, 7);
    expect(r).toMatchObject({ received: 3, confirmed: 2, refusedFull: 0 });
    expect(r.unexplained).toEqual(['503 (payments call: 503 UO upstream_reset_before_response_started{overflow}, 2 of 7 slots taken)']);
  });

  test('a 503 on a half-dead connection (UC, no refusal) is unexplained whatever the pool held; orders before fromWall are not judged', () => {
    const uc = line('outbound', 'e', 10, 3, 503, 'UC');
    const log = [...order('early', -500, 0.2, false), line('inbound', 'e', 10, 4, 503), uc];
    const r = recoveryOf(log, CLUSTER, T0, 7);
    expect(r).toMatchObject({ received: 1, confirmed: 0, refusedFull: 0, refusals: [] });
    expect(r.unexplained).toEqual(['503 (payments call: 503 UC via_upstream, 3 ms)']);
  });
});
