import http from 'node:http';
import { Upstream, startSidecar, push, closeAgent, adminGet } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

/**
 * Istio's per-request histograms as a sidecar exposes them. Istio sets no `histogram_bucket_settings` in its
 * bootstrap unless the `sidecar.istio.io/statsHistogramBuckets` annotation asks (tools/packaging/common/
 * envoy_bootstrap.json), so every istio_* histogram has Envoy's default buckets
 * (HistogramSettingsImpl::defaultBuckets), the byte histograms included.
 */
const ENVOY_DEFAULT_BUCKETS = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'];

/** The `le` values of the first series of `name`'s buckets, in exposition order. */
function bucketBounds(text: string, name: string): string[] {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}_bucket{`));
  const series = (l: string) => l.slice(0, l.indexOf('}')).replace(/le="[^"]*",?/, '');
  return lines.filter((l) => series(l) === series(lines[0])).map((l) => /le="([^"]*)"/.exec(l)![1]);
}

/** The _sum of `name` over the series whose labels include every one of `labels`. */
function histogramSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_sum{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** A chunked POST (no content-length) to `port`, `parts` written one by one. */
function postChunked(port: number, path: string, host: string, parts: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { host, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

describe('istio_request_bytes, istio_response_bytes, istio_request_duration_milliseconds', () => {
  let sidecar: Sidecar;
  const app = new Upstream('orders-v1-0', 'v1');
  const payments = new Upstream('payments-v1-0', 'v1');

  beforeAll(async () => {
    await app.start();
    await payments.start();
    sidecar = await startSidecar();
    sidecar.setAppPort(app.port);
    push(sidecar, '', { payments: [payments.endpoint()] });
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await app.stop();
    await payments.stop();
    closeAgent();
  });

  test('all three histograms have Envoy\'s 19 default buckets (0.5 … 3600000) and +Inf, as Istio leaves them', async () => {
    await postChunked(sidecar.ports.outbound, '/warm', 'payments', [Buffer.from('x')]);
    const m = await adminGet(sidecar, '/metrics');
    for (const name of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) {
      expect([name, bucketBounds(m, name)]).toEqual([name, ENVOY_DEFAULT_BUCKETS]);
    }
  });

  test('a chunked request of 5 × 7,001 bytes into the inbound listener counts 35,005 bytes, in the histogram sum and the access log', async () => {
    const before = histogramSum(await adminGet(sidecar, '/metrics'), 'istio_request_bytes', { reporter: 'destination' });
    const part = Buffer.alloc(7001, 'c');
    expect(await postChunked(sidecar.ports.inbound, '/in-chunked', 'orders', [part, part, part, part, part])).toBe(200);
    expect(app.seen.at(-1)?.body.length).toBe(35_005);
    const after = histogramSum(await adminGet(sidecar, '/metrics'), 'istio_request_bytes', { reporter: 'destination' });
    expect(after - before).toBe(35_005);
    const entry = sidecar.accessLog.entries().filter((e) => e.path === '/in-chunked')[0];
    expect(entry).toMatchObject({ direction: 'inbound', bytes_received: 35_005 });
  });

  test('a chunked request of 3 × 10,000 bytes out through the outbound listener counts 30,000 bytes too', async () => {
    const before = histogramSum(await adminGet(sidecar, '/metrics'), 'istio_request_bytes', { reporter: 'source' });
    const part = Buffer.alloc(10_000, 'o');
    expect(await postChunked(sidecar.ports.outbound, '/out-chunked', 'payments', [part, part, part])).toBe(200);
    const after = histogramSum(await adminGet(sidecar, '/metrics'), 'istio_request_bytes', { reporter: 'source' });
    expect(after - before).toBe(30_000);
    expect(sidecar.accessLog.entries().filter((e) => e.path === '/out-chunked')[0]).toMatchObject({ bytes_received: 30_000 });
  });
});
