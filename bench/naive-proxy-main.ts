import http from 'node:http';
import { reportReady } from '../lib/ipc';

/**
 * The calibration reference: the naive Node reverse proxy (http.request with a keep-alive agent,
 * piping both ways, nothing else) — what any Node proxy costs before doing mesh work. The gap
 * between it and the sidecar is the sidecar's own per-request work.
 */
const upstreamPort = Number(process.env.BENCH_UPSTREAM_PORT);
if (!upstreamPort) throw new Error('BENCH_UPSTREAM_PORT is required (the upstream to proxy to)');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const server = http.createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (ures) => {
    res.writeHead(ures.statusCode ?? 502, ures.headers);
    ures.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
    res.end();
  });
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => reportReady('naive-proxy', { http: (server.address() as { port: number }).port }));
const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
