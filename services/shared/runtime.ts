import Fastify, { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { onShutdown, reportReady } from '../../lib/ipc';
import { LabControl } from './lab';
import { contextFromEnv, type ServiceContext } from './context';

export interface ServiceRuntime {
  ctx: ServiceContext;
  app: FastifyInstance;
  metrics: Registry;
  lab: LabControl;
}

/** What a service's setup returns: how to stop what it started (consumers, relays, databases). */
export type Teardown = () => Promise<void> | void;

/**
 * Builds the common shell of every service: a fastify app with /healthz and /metrics, the lab
 * hook, a lab-control server on its own loopback port, graceful shutdown and readiness reporting.
 */
export function createRuntime(ctx: ServiceContext): ServiceRuntime {
  const metrics = new Registry();
  metrics.setDefaultLabels({ service: ctx.name, version: ctx.version, instance: ctx.instance });
  collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: 1000 }); // not a 10 ms wake-up (test/mesh/idle-wakeups.test.ts)
  const requests = new Counter({ name: 'meshlab_app_requests_total', help: 'Requests served by the app.', labelNames: ['method', 'route', 'status'], registers: [metrics] });
  const duration = new Histogram({ name: 'meshlab_app_request_duration_seconds', help: 'App request duration.', labelNames: ['route'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [metrics] });

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true });
  const lab = new LabControl();
  app.addHook('onRequest', lab.hook);
  app.addHook('onSend', lab.onSend);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route, status: reply.statusCode });
    duration.observe({ route }, reply.elapsedTime / 1000);
  });
  app.get('/healthz', async () => ({ status: 'ok', service: ctx.name, version: ctx.version, instance: ctx.instance }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  // Fastify's own errors (bad JSON, wrong content type) get the same clear JSON shape as ours.
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    reply.code(status).send({ error: status === 500 ? `internal error: ${err.message}` : err.message });
  });
  return { ctx, app, metrics, lab };
}

/** Runs a service process: setup, listen, report ready, and stop cleanly on SIGTERM. */
export async function runService(setup: (rt: ServiceRuntime) => Promise<Teardown>): Promise<void> {
  const ctx = contextFromEnv();
  const rt = createRuntime(ctx);
  const teardown = await setup(rt);
  await rt.app.listen({ host: ctx.host, port: ctx.port });
  const labServer = rt.lab.server(ctx.instance, (code) => process.exit(code));
  await labServer.listen({ host: '127.0.0.1', port: ctx.labPort });
  const port = (rt.app.server.address() as { port: number }).port;
  const labPort = (labServer.server.address() as { port: number }).port;
  onShutdown(async () => {
    await labServer.close();
    await rt.app.close();
    await teardown();
  });
  reportReady(ctx.instance, { http: port, lab: labPort });
}

export function fatal(service: string) {
  return (err: unknown): void => {
    console.error(`${service} failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  };
}
