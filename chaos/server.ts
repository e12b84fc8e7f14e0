/**
 * The embeddable chaos server: Toxiproxy's HTTP API plus the proxies it manages, in-process.
 * `close()` stops the API, every proxy listener and every proxied connection.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiHandler, type ApiState } from './api';
import { Proxy } from './proxy';
import { ProxyCollection } from './proxy_collection';
import { Rng } from './rng';

export interface ChaosServer {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

export interface ChaosServerOptions {
  /** Address for the HTTP API (default 127.0.0.1). */
  host?: string;
  /** Port for the HTTP API (default 8474, Toxiproxy's; 0 picks a free one). */
  port?: number;
  /** Seed for toxicity rolls, latency jitter and slicer sizes (default: time-based). */
  seed?: number;
  /** Receives one line per proxy/toxic change (default: silent). */
  log?: (line: string) => void;
}

/** Formats a log line in a logfmt style close to toxiproxy-server's console output. */
export function formatLogLine(message: string, fields: Record<string, unknown>): string {
  const kv = Object.entries(fields).map(([k, v]) => {
    const s = String(v);
    return `${k}=${/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s}`;
  });
  return [new Date().toISOString(), 'INF', message, ...kv].join(' ');
}

export async function startChaosServer(opts: ChaosServerOptions = {}): Promise<ChaosServer> {
  const host = opts.host ?? '127.0.0.1';
  const rng = new Rng(opts.seed ?? Date.now() >>> 0);
  const sink = opts.log;
  const log = (message: string, fields: Record<string, unknown>): void => {
    if (sink) sink(formatLogLine(message, fields));
  };
  const newProxy = (name: string, listen: string, upstream: string): Proxy => new Proxy(name, listen, upstream, { rng, log });
  const proxies = new ProxyCollection(newProxy);
  const state: ApiState = { proxies, newProxy, log };
  const http = createServer(createApiHandler(state));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen({ host, port: opts.port ?? 8474 }, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeAllConnections();
        await proxies.clear();
        await stopped;
      })();
      return closing;
    },
  };
}
