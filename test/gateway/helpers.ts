/** An in-process ingress gateway (no control plane: config pushed with `push`), its upstream apps, and HTTPS calls. */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { GATEWAY_LABELS, Upstream, type Answer } from '../mesh/harness';
import type { Endpoint } from '../../mesh/xds';

export async function startGateway(opts: { httpsPort?: number; credentialsDir?: string } = {}): Promise<Sidecar> {
  const g = new Sidecar({
    role: 'gateway',
    service: 'istio-ingressgateway',
    version: 'v1',
    instance: 'gateway',
    labels: GATEWAY_LABELS,
    host: '127.0.0.1',
    ports: { inbound: 0, outbound: 0, admin: 0 },
    controlPlaneUrl: 'http://127.0.0.1:9',
    ...opts,
  });
  (g.accessLog as unknown as { fd: number }).fd = -1;
  await g.start();
  return g;
}

/** orders, payments v1 and v2: one upstream each. */
export async function startApps(): Promise<{ orders: Upstream; v1: Upstream; v2: Upstream; endpoints: Record<string, Endpoint[]>; stop: () => Promise<void> }> {
  const orders = await new Upstream('orders-v1-0', 'v1').start();
  const v1 = await new Upstream('payments-v1-0', 'v1').start();
  const v2 = await new Upstream('payments-v2-0', 'v2').start();
  return {
    orders,
    v1,
    v2,
    endpoints: { orders: [orders.endpoint('orders')], payments: [v1.endpoint('payments'), v2.endpoint('payments')] },
    stop: async () => {
      await Promise.all([orders.stop(), v1.stop(), v2.stop()]);
    },
  };
}

export const PAYMENTS_DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

/** One HTTPS request; rejects on a TLS or connection error (the error's code or message). */
export function httpsCall(port: number, path: string, opts: { ca?: string | Buffer; servername?: string; host?: string; method?: string; headers?: Record<string, string>; cert?: string; key?: string; insecure?: boolean } = {}): Promise<Answer & { authorized?: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', ca: opts.ca, servername: opts.servername, cert: opts.cert, key: opts.key, rejectUnauthorized: !opts.insecure, agent: false, headers: { host: opts.host ?? opts.servername ?? '127.0.0.1', ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0, authorized: (res.socket as TLSSocket).authorized }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
    req.end();
  });
}
