import type { ServerResponse } from 'node:http';
import type { Registry } from '../registry';
import type { ConfigService } from '../config-service';
import { Telemetry } from './telemetry';
import { scrapeAll, type ScrapeResult } from './scraper';
import { buildModel, type DashboardModel } from './model';
import type { WorldLinks } from './world-links';
import type { ScenarioStore } from './scenarios';

export interface LiveDeps {
  registry: Registry;
  config: ConfigService;
  links: WorldLinks;
  scenarios: ScenarioStore;
  /** Tick period, ms (1000: one scrape round and one pushed model per second). */
  periodMs?: number;
}

/**
 * The live side of the dashboard: while at least one browser holds the event stream open, every
 * period it scrapes each proxy's admin /metrics and /clusters once, folds the counters into the
 * telemetry window, builds one model and writes it to every stream. With no browser connected it
 * does nothing at all, and the next browser starts from a fresh baseline.
 */
export class LiveDashboard {
  readonly telemetry = new Telemetry();
  private readonly clients = new Set<ServerResponse>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private closed = false;
  private lastScrapes: ScrapeResult[] = [];
  latest?: DashboardModel;
  /** Scrape rounds since start (tests read it to prove scraping stops with no browser). */
  rounds = 0;

  constructor(private readonly deps: LiveDeps) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over a raw response as an SSE stream until the browser goes away. */
  attach(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (this.latest) this.send(res, this.latest);
    if (!this.running) this.start();
    else void this.refresh(); // a new browser gets fresh non-telemetry state without waiting a period
  }

  /** Builds a model now without scraping (for GET /v1/dashboard/model and new browsers). */
  async refresh(): Promise<DashboardModel> {
    return this.build(this.lastScrapes, 0);
  }

  close(): void {
    this.closed = true;
    this.stop();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private start(): void {
    if (this.closed) return;
    this.running = true;
    this.telemetry.reset();
    void this.loop();
  }

  private stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    const period = this.deps.periodMs ?? 1000;
    const t0 = performance.now();
    try {
      const scrapes = await scrapeAll(this.deps.registry);
      const scrapeMs = performance.now() - t0;
      if (!this.running) return;
      this.rounds++;
      this.telemetry.tick(Date.now(), scrapes.filter((s) => s.metrics !== undefined).map((s) => ({ node: s.node, text: s.metrics! })));
      this.lastScrapes = scrapes;
      const model = await this.build(scrapes, scrapeMs);
      for (const c of this.clients) this.send(c, model);
    } catch (err) {
      for (const c of this.clients) c.write(`event: error\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`);
    }
    if (!this.running) return;
    this.timer = setTimeout(() => void this.loop(), Math.max(0, period - (performance.now() - t0)));
  }

  private async build(scrapes: ScrapeResult[], scrapeMs: number): Promise<DashboardModel> {
    const { links, scenarios } = this.deps;
    let chaos: DashboardModel['chaos'] = { url: links.chaosUrl };
    const [edges, sick] = await Promise.all([
      links.chaosEdges().catch((err: Error) => {
        chaos = { ...chaos, error: err.message };
        return undefined;
      }),
      links.labStates(),
    ]);
    if (edges) chaos = { ...chaos, edges };
    const model = buildModel({ ...this.deps, telemetry: this.telemetry, scrapes, scrapeMs, chaos, labs: links.labInstances(), sick, scenario: { version: scenarios.version, current: scenarios.current() } });
    this.latest = model;
    return model;
  }

  private send(res: ServerResponse, model: DashboardModel): void {
    res.write(`event: model\ndata: ${JSON.stringify(model)}\n\n`);
  }
}
