import http from 'node:http';
import https from 'node:https';

export interface SmallResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface SmallRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The whole exchange, connect to last body byte; the request is destroyed past it. */
  timeoutMs?: number;
  /** A keep-alive agent for repeated requests (health probes); Node's global agent otherwise. */
  agent?: http.Agent;
}

/**
 * One request over node:http(s) with its whole answer read: a sidecar's own control traffic (health probes of its
 * app, its POSTs to the control plane). Not undici or the global fetch: either loads about 20 MB of code into a
 * sidecar's RSS for a few requests a second (mesh/README.md, "Memory").
 */
export function request(url: URL | string, opts: SmallRequest = {}): Promise<SmallResponse> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = mod.request(u, { method: opts.method ?? 'GET', headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', fail);
    });
    function fail(err: Error): void {
      clearTimeout(timer);
      reject(err);
    }
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => req.destroy(new Error(`${opts.method ?? 'GET'} ${u.href}: no whole answer in ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', fail);
    req.end(opts.body);
  });
}
