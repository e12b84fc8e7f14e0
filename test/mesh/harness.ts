import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { loadYaml } from '../../mesh/config/load';
import type { Endpoint } from '../../mesh/xds';

/** What an upstream test server does with one request; default: 200 with its instance name. */
export type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export interface SeenRequest {
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A small upstream app: answers GET /healthz 200, records every other request, behaves as told. */
export class Upstream {
  server!: http.Server;
  port = 0;
  seen: SeenRequest[] = [];
  behaviour: Behaviour = (_req, res) => this.ok(res);
  private waiters: { n: number; resolve: () => void }[] = [];

  /** Resolves once `n` requests have been seen (an event, not a sleep). */
  waitFor(n: number): Promise<void> {
    if (this.seen.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  constructor(
    readonly instance: string,
    readonly version: string,
  ) {}

  ok(res: http.ServerResponse, status = 200): void {
    const body = JSON.stringify({ instance: this.instance });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/healthz') return this.ok(res);
        const body = Buffer.concat(chunks);
        this.seen.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString() });
        this.waiters = this.waiters.filter((w) => (this.seen.length >= w.n ? (w.resolve(), false) : true));
        this.behaviour(req, res, body);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  endpoint(service = 'payments'): Endpoint {
    return { instance: this.instance, service, labels: { app: service, version: this.version }, host: '127.0.0.1', port: this.port };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** An in-process sidecar for `orders` whose config is applied directly (no control plane: its xDS client just keeps retrying a closed port). */
export async function startSidecar(): Promise<Sidecar> {
  const sidecar = new Sidecar({
    role: 'sidecar',
    service: 'orders',
    version: 'v1',
    instance: 'orders-v1-0',
    labels: { app: 'orders', version: 'v1' },
    host: '127.0.0.1',
    ports: { inbound: 0, outbound: 0, admin: 0 },
    controlPlaneUrl: 'http://127.0.0.1:9',
  });
  (sidecar.accessLog as unknown as { fd: number }).fd = -1;
  await sidecar.start();
  return sidecar;
}

let version = 1;
/** Applies YAML config plus endpoints to a sidecar, as a control-plane push would. */
/** config/default/gateway.yaml: the default Gateway and its edge VirtualService (an in-process gateway needs them to route). */
export const DEFAULT_GATEWAY_YAML = fs.readFileSync(path.join(__dirname, '../../../config/default/gateway.yaml'), 'utf8');
/** The labels Istio's ingress gateway pods carry, which the default Gateway selects. */
export const GATEWAY_LABELS = { istio: 'ingressgateway', app: 'istio-ingressgateway' };

export function push(sidecar: Sidecar, yaml: string, endpoints: Record<string, Endpoint[]>): void {
  const loaded = yaml.trim() ? loadYaml(yaml, 'test.yaml') : { resources: [], messages: [] };
  const errors = loaded.messages.filter((m) => m.level === 'Error');
  if (errors.length > 0) throw new Error(`test config does not load: ${JSON.stringify(errors)}`);
  sidecar.applySnapshot({ version: version++, endpoints, resources: loaded.resources });
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One request through the sidecar's outbound listener, addressed to `host` like an app would. */
export function call(port: number, path: string, opts: { host?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent, headers: { host: opts.host ?? 'payments', ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** `n` calls, at most `concurrency` at a time. */
export async function many(n: number, concurrency: number, one: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const out: Answer[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

export function closeAgent(): void {
  agent.destroy();
}

/** Sum of a Prometheus metric's samples whose labels include `labels`. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function adminGet(sidecar: Sidecar, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${sidecar.ports.admin}${path}`);
  return res.text();
}
