import { DEFAULT_RETRY_POLICY } from '../../mesh/route-table';
import { StreamInfo } from '../../mesh/stream-info';
import { effectiveOutlierDetection, effectiveRoute } from '../../mesh/config/effective';
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, backoffMs } from '../../mesh/retry-policy';
import { REQUEST_LIMITS } from '../../mesh/http-connection-manager';
import { DEFAULT_PATH_NORMALIZATION } from '../../mesh/path-normalization';
import { poolOptionsFor } from '../../mesh/upstream-host';
import { OutlierDetector, MAX_EJECTION_TIME_MS } from '../../mesh/outlier-detector';
import { FakeClock } from './helpers';
import { compileAuthorization } from '../../mesh/security/authz';

/** Every number and default mesh/config/README.md states about the sidecar, checked against the code. */
describe('mesh/config/README.md numbers and defaults', () => {
  test('default retries: 2, on connect-failure/refused-stream/unavailable/cancelled/retriable-status-codes, a 503 not retried', () => {
    expect(DEFAULT_RETRY_POLICY.numRetries).toBe(2);
    expect(DEFAULT_RETRY_POLICY.retriableStatus(503)).toBe(false);
    expect(DEFAULT_RETRY_POLICY.retriable({ kind: 'connect-failure' })).toBe(true);
    expect(DEFAULT_RETRY_POLICY.retriable({ kind: 'reset' })).toBe(false);
  });

  test('back-off base 25 ms, interval capped at 250 ms; retry body buffer 1 MiB', () => {
    expect([BACKOFF_BASE_MS, BACKOFF_MAX_MS]).toEqual([25, 250]);
    expect(backoffMs(20, () => 0.999999)).toBe(249);
    expect(REQUEST_LIMITS.retryBufferBytes).toBe(1024 * 1024);
  });

  test('fault percentage unset = 0 %, mirror percentage unset = 100 %', () => {
    const r = effectiveRoute({ route: [{ destination: { host: 'payments' } }], fault: { delay: { fixedDelay: '1s' }, abort: { httpStatus: 503 } }, mirror: { host: 'payments' } });
    expect([r.fault?.delay?.percent, r.fault?.abort?.percent, r.mirror?.percent]).toEqual([0, 0, 100]);
  });

  test('outlier defaults 5 / off / 10 s / 30 s / 10 % / 0; maxEjectionPercent 0 ejects as 10 %; cap max(300 s, base)', () => {
    expect(effectiveOutlierDetection({})).toMatchObject({ consecutive5xxErrors: 5, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10, minHealthPercent: 0 });
    expect(MAX_EJECTION_TIME_MS).toBe(300_000);
    const od = new OutlierDetector<number>(effectiveOutlierDetection({ maxEjectionPercent: 0 })!, new FakeClock());
    od.setHosts([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let i = 0; i < 5; i++) od.record(0, 500);
    expect(od.ejected).toBe(1);
    od.close();
  });

  test('idleTimeout unset = 1 h; pathNormalization unset = BASE', () => {
    expect(poolOptionsFor(undefined).keepAliveTimeout).toBe(3_600_000);
    expect(DEFAULT_PATH_NORMALIZATION).toBe('BASE');
  });

  test('`when` keys: request.headers[..], source.principal, source.namespace — request.method and request.path are refused', () => {
    const pol = (key: string) => [{ metadata: { name: 'p' }, spec: { rules: [{ when: [{ key, values: ['x'] }] }] } }];
    for (const key of ['request.headers[x-user]', 'source.principal', 'source.namespace']) expect(() => compileAuthorization(pol(key), { service: 'payments' })).not.toThrow();
    for (const key of ['request.method', 'request.path']) expect(() => compileAuthorization(pol(key), { service: 'payments' })).toThrow(/is not supported/);
  });
});

test('several response flags come in Envoy\'s order (UH UT LR UR UF UC UO NR DI FI … DC URX), whatever order they were raised in', () => {
  const s = new StreamInfo('outbound');
  for (const f of ['URX', 'DC', 'UF', 'DI', 'UT']) s.flag(f);
  expect(s.responseFlags).toBe('UT,UF,DI,DC,URX');
});
