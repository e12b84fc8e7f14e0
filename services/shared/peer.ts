import { Pool } from 'undici';

export interface PeerResponse<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * How a service calls another: by name, through its own sidecar's outbound listener. No retries,
 * no breakers, no TLS here: those are the mesh's job. The only timeout is a sane default so a
 * stuck call cannot hold a request forever.
 */
export class Peers {
  private readonly pool: Pool;

  constructor(outboundUrl: string, defaultTimeoutMs = 30_000) {
    this.pool = new Pool(outboundUrl, { connections: 64, headersTimeout: defaultTimeoutMs, bodyTimeout: defaultTimeoutMs });
  }

  async call<T = unknown>(service: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<PeerResponse<T>> {
    const headers: Record<string, string> = { host: service, ...opts.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await this.pool.request({ method, path, headers, body });
    const text = await res.body.text();
    let parsed: unknown = text;
    if (String(res.headers['content-type'] ?? '').includes('application/json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.statusCode, body: parsed as T, headers: res.headers };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
