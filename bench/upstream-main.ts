import http from 'node:http';
import { reportReady } from '../lib/ipc';

/**
 * The bench's upstream: the smallest Node HTTP server, answering `{"ok":true}` (and /healthz, which
 * a sidecar probes before it reports its app ready), keep-alive, so every topology shares one
 * cheap, constant endpoint and the differences between them are the proxies.
 */
const BODY = Buffer.from('{"ok":true}');
const server = http.createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
  req.resume();
});
server.listen(Number(process.env.BENCH_UPSTREAM_PORT ?? 0), '127.0.0.1', () => {
  reportReady('bench-upstream', { http: (server.address() as { port: number }).port });
});
const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
