import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { World, tempWorldDir } from '../../world/world';
import { prometheusDocument, type ScrapeTarget } from '../../world/compose-generate';
import { eventually, json, ORDER } from '../support/http';
import { ROOT, itWithBinary, which } from './helpers';

/**
 * The observability half of the compose world checked against real sidecars: the Grafana panels'
 * PromQL names only metrics the sidecars export, and the real Prometheus (Debian) scrapes an
 * embedded world with a scrape config made by the same generator as deploy/prometheus/prometheus.yml.
 */
const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/meshlab.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

const KEYWORDS = new Set(['by', 'on', 'ignoring', 'without', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression selects: identifiers left after removing strings, matchers, ranges, label lists and function calls. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|on|ignoring|without|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const after = bare.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Sample names a Prometheus text exposition can produce (from its # TYPE lines, so unobserved labelled series count too). */
function exportedNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) out.add(name + s);
    else out.add(name);
  }
  return out;
}

/** Where Prometheus scrapes a target: sidecars' own /metrics, or the app's through its sidecar (/stats/app). */
function pathOf(t: ScrapeTarget): string {
  return t.job === 'meshlab-services' ? '/stats/app' : '/metrics';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('dashboard PromQL and the real Prometheus against an embedded world', () => {
  const dir = tempWorldDir('meshlab-compose-');
  let world: World;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let targets: ScrapeTarget[] = [];
  let promLog = '';

  beforeAll(async () => {
    world = await World.start({ dataDir: path.join(dir, 'data'), logDir: path.join(dir, 'logs'), env: { MESH_SEED: '7' } });
    const s = world.state();
    targets = [
      { job: 'meshlab-sidecars', address: `127.0.0.1:${world.gateway.ports.admin}`, labels: { pod: 'gateway', role: 'gateway' } },
      ...s.instances.map((i): ScrapeTarget => ({ job: 'meshlab-sidecars', address: `127.0.0.1:${i.sidecar.ports.admin}`, labels: { pod: i.id, role: 'sidecar' } })),
      // Apps' own metrics through their sidecar's admin port (metrics merging), as in compose.
      ...s.instances.map((i): ScrapeTarget => ({ job: 'meshlab-services', address: `127.0.0.1:${i.sidecar.ports.admin}`, labels: { pod: i.id, role: 'app' } })),
    ];
    if (!which('prometheus')) return;
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(config, YAML.stringify(prometheusDocument(targets, { scrapeInterval: '1s' })));
    prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stderr!.on('data', (b: Buffer) => (promLog += b.toString()));
    await eventually('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 20000, 100);
  }, 60000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('extracts metric names from PromQL (the checker below can fail)', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, a) (rate(x_bucket{reporter="source",b=~"5.."}[$__rate_interval])))')).toEqual(['x_bucket']);
    expect(metricNames('sum(rate(a_total{c="d"}[1m])) / on (s) group_left sum by (s) (b_total)')).toEqual(['a_total', 'b_total']);
  });

  it('every metric the Grafana panels query is exported by the sidecars or services', async () => {
    const s = world.state();
    const texts = await Promise.all(targets.map((t) => fetch(`http://${t.address}${pathOf(t)}`).then((r) => r.text())));
    const exported = new Set(texts.flatMap((t) => [...exportedNames(t)]));
    expect(s.instances).toHaveLength(5);
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const used = [...new Set(exprs.flatMap((e) => metricNames(e.expr)))].sort();
    expect(used).toEqual(['istio_request_duration_milliseconds_bucket', 'istio_requests_total', 'meshlab_outlier_ejected_hosts', 'meshlab_outlier_ejections_total', 'meshlab_upstream_rq_pending_overflow_total']);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
  });

  itWithBinary('prometheus', 'prometheus')('Prometheus scrapes every sidecar, the gateway and every app: all 11 targets up', async () => {
    const health = await eventually('every target up', async () => {
      const res = await json<{ data: { activeTargets: { scrapeUrl: string; health: string; lastError: string }[] } }>(`${promUrl}/api/v1/targets?state=active`);
      const active = res.body.data.activeTargets;
      return active.length === targets.length && active.every((t) => t.health === 'up') ? active : undefined;
    }, 20000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\nprometheus log:\n${promLog}`);
    });
    expect(health.map((t) => t.scrapeUrl).sort()).toEqual(targets.map((t) => `http://${t.address}${pathOf(t)}`).sort());
  }, 30000);

  itWithBinary('prometheus', 'prometheus')('every dashboard query runs in Prometheus; the edge panels see the traffic', async () => {
    const query = async (expr: string) => {
      const res = await json<{ status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr.replaceAll('$__rate_interval', '60s'))}`);
      return res.body;
    };
    // rate() needs a counter to grow between two scrapes: a burst that lands before the series' first scrape shows
    // as a flat line. So: half the orders, wait until Prometheus has scraped the payments series, then the rest.
    const place = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER })).status).toBe(201);
    };
    await place(12);
    await eventually('the payments series scraped', async () => ((await query('istio_requests_total{reporter="source",destination_service_name="payments"}')).data.result.length > 0 ? true : undefined), 15000, 250);
    await place(12);
    // Two scrapes after the traffic, so rate() has the increase.
    const rps = exprs.find((e) => e.panel.startsWith('Requests per second'))!.expr;
    const edges = await eventually('orders → payments edge in Prometheus', async () => {
      const r = await query(rps);
      const keys = r.data.result.map((s) => `${s.metric.source_workload} -> ${s.metric.destination_workload}`);
      return keys.includes('orders-v1 -> payments-v1') && keys.includes('istio-ingressgateway-v1 -> orders-v1') ? keys : undefined;
    }, 15000, 250);
    expect(edges).toEqual(expect.arrayContaining(['orders-v1 -> payments-v1', 'istio-ingressgateway-v1 -> orders-v1']));
    for (const { panel, expr } of exprs) {
      const r = await query(expr);
      expect({ panel, status: r.status, error: r.error }).toEqual({ panel, status: 'success', error: undefined });
    }
    const errors = await query(exprs.find((e) => e.panel.startsWith('Error rate'))!.expr);
    for (const s of errors.data.result) expect(Number(s.value[1])).toBe(0);
    // A share is 0/0 (NaN) while no payments traffic is inside the rate window (60 s here, so the burst above stays in it).
    const splitExpr = exprs.find((e) => e.panel.startsWith('Canary split'))!.expr;
    const shares = await eventually('the canary split over payments versions', async () => {
      const split = await query(splitExpr);
      const payments = split.data.result.filter((s) => s.metric.destination_service_name === 'payments').map((s) => Number(s.value[1]));
      return payments.length >= 1 && payments.every((v) => Number.isFinite(v)) ? payments : undefined;
    }, 15000, 250);
    expect(shares.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 2);
  }, 40000);
});
