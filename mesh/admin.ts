import http from 'node:http';

export type AdminRoute = (url: URL) => Promise<unknown> | unknown;

/**
 * The sidecar's admin listener (Envoy's admin interface, loopback only): /metrics in Prometheus
 * text, and JSON views of its config, clusters and recent access log.
 */
export type TextSource = () => Promise<{ contentType: string; body: string }>;

export async function startAdmin(host: string, port: number, routes: Record<string, AdminRoute>, metrics: TextSource, appMetrics?: TextSource): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (url.pathname === '/metrics' || url.pathname === '/stats/prometheus') {
      metrics().then((m) => send(200, m.contentType, m.body), (err: Error) => send(500, 'text/plain', err.message));
      return;
    }
    // Istio's metrics merging: the app's own /metrics, served by its sidecar (apps listen on loopback only).
    if (url.pathname === '/stats/app' && appMetrics) {
      appMetrics().then((m) => send(200, m.contentType, m.body), (err: Error) => send(503, 'text/plain', `the app's /metrics is not reachable: ${err.message}`));
      return;
    }
    const route = routes[url.pathname];
    if (!route) return send(404, 'application/json', JSON.stringify({ error: `no admin endpoint ${url.pathname}; try ${['/metrics', ...Object.keys(routes)].join(', ')}` }));
    Promise.resolve()
      .then(() => route(url))
      .then((body) => send(200, 'application/json', JSON.stringify(body, null, 2)), (err: Error) => send(500, 'application/json', JSON.stringify({ error: err.message })));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
