import type { FastifyInstance } from 'fastify';
import type { Registry } from '../registry';
import type { ConfigService } from '../config-service';
import { LiveDashboard } from './live';
import { WorldLinks, ActionError, type LabAddress, type ToxicRequest } from './world-links';
import { ScenarioStore, type ScenarioEvent } from './scenarios';
import { collectTraces } from './traces';
import { policiesByService } from './policies';
import { registerStatic } from './static';

export interface DashboardDeps {
  registry: Registry;
  config: ConfigService;
  /** The chaos server's API (Toxiproxy-compatible); absent: the chaos view says "no chaos server". */
  chaosUrl?: string;
  /** Where finished scenario reports are kept (the control plane's data dir). */
  dataDir?: string;
  /** Scrape/push period, ms (default 1000). */
  periodMs?: number;
}

export type { DashboardModel } from './model';
export type { ScenarioEvent } from './scenarios';

/**
 * The live mesh dashboard on the control plane: the page at `/`, one SSE stream of the whole
 * model per second at /v1/dashboard/stream, the actions the page takes (toxics, sick instances),
 * the scenario runner's event intake at /v1/scenarios/events, and traces collected on demand.
 */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): { close(): void } {
  const links = new WorldLinks(deps.chaosUrl);
  const scenarios = new ScenarioStore(deps.dataDir);
  const live = new LiveDashboard({ registry: deps.registry, config: deps.config, links, scenarios, periodMs: deps.periodMs });

  registerStatic(app);

  app.get('/v1/dashboard/stream', (req, reply) => {
    reply.hijack();
    req.raw.socket.setNoDelay(true);
    live.attach(reply.raw);
  });
  app.get('/v1/dashboard/model', async () => live.refresh());
  app.get('/v1/dashboard/status', async () => ({ clients: live.clientCount, rounds: live.rounds, chaosUrl: links.chaosUrl ?? null, labs: links.labInstances(), zipkinUrl: links.zipkinUrl ?? null, prometheusUrl: links.prometheusUrl ?? null }));

  app.get('/v1/dashboard/policies', async () => {
    const messages = deps.config.analyze();
    const services = Object.keys(deps.registry.snapshot().endpoints).sort();
    return { version: deps.config.store.version, services: policiesByService(deps.config.store.list(), messages, services, deps.registry.serviceNamespaces()), messages };
  });

  app.get('/v1/dashboard/traces', async (req) => {
    const q = req.query as { limit?: string; path?: string };
    const limit = Math.min(Math.max(Number(q.limit ?? 10) || 10, 1), 100);
    return { ...(await collectTraces(deps.registry, { limit, pathPrefix: q.path || undefined })), zipkinUrl: links.zipkinUrl ?? null };
  });

  // The launcher tells the dashboard what the registry does not know: the chaos server and lab ports.
  app.post('/v1/dashboard/world', async (req, reply) => {
    const body = (req.body ?? {}) as { chaosUrl?: string | null; labs?: LabAddress[]; zipkinUrl?: string | null; prometheusUrl?: string | null };
    for (const k of ['zipkinUrl', 'prometheusUrl'] as const) {
      const v = body[k];
      if (v !== undefined && v !== null && (typeof v !== 'string' || !/^https?:\/\/[^/]+\/?$/.test(v))) return reply.code(400).send({ error: `${k} must be a base URL like "http://127.0.0.1:9411" or null, got ${JSON.stringify(v)}` });
    }
    if (body.labs !== undefined && (!Array.isArray(body.labs) || body.labs.some((l) => typeof l?.instance !== 'string' || typeof l?.url !== 'string'))) {
      return reply.code(400).send({ error: 'body must be {"chaosUrl": "http://127.0.0.1:8474", "labs": [{"instance": "payments-v1-0", "url": "http://127.0.0.1:40123"}]} (both optional)' });
    }
    if (body.chaosUrl !== undefined) links.setChaosUrl(body.chaosUrl ?? undefined);
    if (body.labs) links.setLabs(body.labs);
    if (body.zipkinUrl !== undefined) links.zipkinUrl = body.zipkinUrl?.replace(/\/$/, '') ?? undefined;
    if (body.prometheusUrl !== undefined) links.prometheusUrl = body.prometheusUrl?.replace(/\/$/, '') ?? undefined;
    return { ok: true, chaosUrl: links.chaosUrl ?? null, labs: links.labInstances(), zipkinUrl: links.zipkinUrl ?? null, prometheusUrl: links.prometheusUrl ?? null };
  });

  const act = async <T>(reply: import('fastify').FastifyReply, fn: () => Promise<T>): Promise<unknown> => {
    try {
      const out = await fn();
      void live.refresh();
      return out ?? { ok: true };
    } catch (err) {
      const status = err instanceof ActionError ? err.statusCode : 502;
      return reply.code(status).send({ error: (err as Error).message });
    }
  };
  app.post('/v1/dashboard/chaos/toxics', async (req, reply) => act(reply, () => links.addToxic(req.body as ToxicRequest)));
  app.post('/v1/dashboard/chaos/toxics/remove', async (req, reply) => {
    const { proxy, toxic } = (req.body ?? {}) as { proxy?: string; toxic?: string };
    return act(reply, async () => {
      await links.removeToxic(proxy ?? '', toxic ?? '');
      return { ok: true };
    });
  });
  app.post('/v1/dashboard/labs/:instance/sick', async (req, reply) => act(reply, () => links.lab((req.params as { instance: string }).instance, (req.body ?? {}) as Record<string, unknown>)));
  app.delete('/v1/dashboard/labs/:instance/sick', async (req, reply) => act(reply, () => links.lab((req.params as { instance: string }).instance, null)));

  // Scenario runner intake: one event object or an array of them per POST.
  app.post('/v1/scenarios/events', async (req, reply) => {
    const body = req.body as ScenarioEvent | ScenarioEvent[];
    const events = Array.isArray(body) ? body : [body];
    let run: string | undefined;
    for (const ev of events) {
      if (run && ev && ev.type !== 'start' && !(ev as { run?: string }).run) (ev as { run?: string }).run = run;
      try {
        run = scenarios.apply(ev).run;
      } catch (err) {
        return reply.code(400).send({ error: (err as Error).message });
      }
    }
    return { ok: true, run };
  });
  app.get('/v1/scenarios', async () => ({ runs: scenarios.summaries() }));
  app.get('/v1/scenarios/:run', async (req, reply) => {
    const run = scenarios.get((req.params as { run: string }).run);
    return run ?? reply.code(404).send({ error: `no scenario run ${(req.params as { run: string }).run}; see GET /v1/scenarios` });
  });

  return { close: () => live.close() };
}
