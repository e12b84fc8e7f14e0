import { Pool } from 'undici';
import type { Endpoint } from './xds';

/**
 * One upstream endpoint as a cluster sees it: its address and labels, a keep-alive connection pool,
 * and the live counters that load balancing and outlier detection read.
 */
export class UpstreamHost {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly pool: Pool;
  activeRequests = 0;

  constructor(endpoint: Endpoint, poolOptions: Pool.Options = {}) {
    this.endpoint = endpoint;
    this.key = `${endpoint.host}:${endpoint.port}`;
    this.pool = new Pool(`http://${this.key}`, {
      connections: null,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      ...poolOptions,
    });
  }

  get instance(): string {
    return this.endpoint.instance;
  }

  get version(): string {
    return this.endpoint.labels.version ?? 'unknown';
  }

  /** Closes idle connections now and the rest once their requests finish. */
  close(): void {
    this.pool.close().catch(() => undefined);
  }
}
