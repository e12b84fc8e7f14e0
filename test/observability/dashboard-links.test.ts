import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';
import { json } from '../support/http';

/** The launcher tells the dashboard where the world's Zipkin and Prometheus are; the trace view gets the Zipkin link. */
describe('dashboard links to the observability backends', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, services: ['orders', 'payments', 'notifications'] });
  });
  afterAll(async () => {
    await cp?.close();
  });

  test('a bad zipkinUrl is a 400 that says what would be right, and changes nothing', async () => {
    const bad = await json(`${cp.url}/v1/dashboard/world`, { body: { zipkinUrl: 'zipkin:9411' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('zipkinUrl must be a base URL like "http://127.0.0.1:9411" or null, got "zipkin:9411"');
    expect((await json(`${cp.url}/v1/dashboard/status`)).body.zipkinUrl).toBeNull();
  });

  test('a zipkinUrl given by the world comes back with the traces (the view links each trace to Zipkin\'s UI); null removes it', async () => {
    const ok = await json(`${cp.url}/v1/dashboard/world`, { body: { zipkinUrl: 'http://127.0.0.1:9411/', prometheusUrl: 'http://127.0.0.1:9090' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ zipkinUrl: 'http://127.0.0.1:9411', prometheusUrl: 'http://127.0.0.1:9090' });
    const traces = await json(`${cp.url}/v1/dashboard/traces?limit=1`);
    expect(traces.body).toMatchObject({ traces: [], zipkinUrl: 'http://127.0.0.1:9411' });
    await json(`${cp.url}/v1/dashboard/world`, { body: { zipkinUrl: null } });
    expect((await json(`${cp.url}/v1/dashboard/traces?limit=1`)).body.zipkinUrl).toBeNull();
  });
});
