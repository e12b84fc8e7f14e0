import http from 'node:http';

export { freePort } from '../lib/free-port';

/** One GET; resolves with the status (0 on a connection error). */
export function getStatus(port: number, hostHeader: string, path = '/', timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: hostHeader }, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

/**
 * Waits until a GET through `port` (with `hostHeader`) answers 200: the whole path — proxies,
 * their learned endpoints, the upstream — works end to end. Polls, since the path's readiness is
 * spread over several processes and has no single event.
 */
export async function waitForPath(what: string, port: number, hostHeader: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    last = await getStatus(port, hostHeader);
    if (last === 200) return;
    if (Date.now() > deadline) throw new Error(`${what}: GET / via 127.0.0.1:${port} (Host: ${hostHeader}) did not answer 200 within ${timeoutMs} ms (last status ${last || 'connection error'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
