import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from './helpers';

/**
 * Grafana in compose (issue #20, item 6), checked on the files with no Docker engine: every data source a dashboard
 * names is provisioned, with the type it is used as; the Istio standard dashboards (Mesh, Service, Workload) carry their
 * key panels and a link to a trace data source that compose runs; the provisioned dashboard folder is the one compose
 * mounts. The PromQL of every panel is run against the real Prometheus in test/observability/order-trace.
 */

type Ref = { type?: string; uid?: string };
interface Dashboard {
  uid: string;
  title: string;
  links?: { title: string; type: string; url?: string }[];
  panels: { title: string; datasource?: Ref; targets?: { datasource?: Ref; expr?: string }[] }[];
}
interface DataSource {
  name: string;
  uid: string;
  type: string;
  url: string;
}

const GRAFANA = path.join(ROOT, 'deploy', 'grafana');
const dashboards = (): Record<string, Dashboard> =>
  Object.fromEntries(
    fs
      .readdirSync(path.join(GRAFANA, 'dashboards'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, JSON.parse(fs.readFileSync(path.join(GRAFANA, 'dashboards', f), 'utf8')) as Dashboard]),
  );
const dataSources = (): DataSource[] =>
  fs
    .readdirSync(path.join(GRAFANA, 'provisioning', 'datasources'))
    .flatMap((f) => (YAML.parse(fs.readFileSync(path.join(GRAFANA, 'provisioning', 'datasources', f), 'utf8')) as { datasources: DataSource[] }).datasources);

/** A link's Explore URL names its data source by uid: `/explore?left={"datasource":"jaeger"}`. */
const exploreUid = (url: string): string | undefined => {
  const left = new URL(url, 'http://grafana').searchParams.get('left');
  return left ? (JSON.parse(left) as { datasource?: string }).datasource : undefined;
};

/** What is wrong with these dashboards against these data sources (empty: nothing). */
function danglingRefs(boards: Record<string, Dashboard>, sources: readonly DataSource[]): string[] {
  const byUid = new Map(sources.map((s) => [s.uid, s]));
  const out: string[] = [];
  for (const [file, d] of Object.entries(boards)) {
    for (const p of d.panels)
      for (const ref of [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]) {
        if (!ref?.uid) continue;
        const s = byUid.get(ref.uid);
        if (!s) out.push(`${file}: panel "${p.title}" uses data source uid "${ref.uid}", which is not provisioned`);
        else if (ref.type && ref.type !== s.type) out.push(`${file}: panel "${p.title}" uses "${ref.uid}" as ${ref.type}; it is ${s.type}`);
      }
    for (const l of d.links ?? []) {
      const uid = l.url ? exploreUid(l.url) : undefined;
      if (l.url?.startsWith('/explore') && (!uid || !byUid.has(uid))) out.push(`${file}: link "${l.title}" opens data source "${uid}", which is not provisioned`);
    }
  }
  return out;
}

describe('Grafana provisioning in compose', () => {
  const boards = dashboards();
  const sources = dataSources();
  const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8')) as { services: Record<string, { image?: string; volumes?: string[]; ports?: string[]; environment?: Record<string, string> }> };

  test('every data source a panel or a link names is provisioned, with the type it is used as (and the check catches a dangling uid and a wrong type)', () => {
    expect(danglingRefs(boards, sources)).toEqual([]);
    const broken = structuredClone(boards);
    broken['istio-mesh.json'].panels[0].datasource = { type: 'prometheus', uid: 'prom' };
    broken['istio-mesh.json'].links![0].url = '/explore?left=%7B%22datasource%22:%22tempo%22%7D';
    broken['meshlab.json'].panels[0].targets![0].datasource = { type: 'loki', uid: 'prometheus' };
    expect(danglingRefs(broken, sources)).toHaveLength(3);
  });

  test('the Istio standard dashboards carry their key panels, read from the destination reporter, and each links to a trace data source compose runs', () => {
    const titles = (f: string): string[] => boards[f].panels.map((p) => p.title);
    expect(titles('istio-mesh.json')).toEqual(expect.arrayContaining(['Global Request Volume', 'Global Success Rate (non-5xx responses)', '4xxs', '5xxs', 'HTTP workloads: P50 / P90 / P99']));
    expect(titles('istio-service.json')).toEqual(expect.arrayContaining(['Client Request Volume', 'Client Success Rate (non-5xx responses)', 'Server Request Volume', 'Incoming Requests by Source and Response Code']));
    expect(titles('istio-workload.json')).toEqual(expect.arrayContaining(['Incoming Request Volume', 'Incoming Success Rate (non-5xx responses)', 'Request Duration (P50 / P90 / P99)', 'Outgoing Requests by Destination and Response Code']));
    // mTLS is only known to the destination (the source reports "unknown"): every security panel reads reporter="destination".
    const security = Object.values(boards).flatMap((d) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''))).filter((e) => e.includes('connection_security_policy'));
    expect(security.length).toBeGreaterThanOrEqual(3);
    for (const e of security) expect(e).not.toMatch(/reporter="source"/);
    for (const f of ['istio-mesh.json', 'istio-service.json', 'istio-workload.json']) {
      const traces = (boards[f].links ?? []).filter((l) => l.url?.startsWith('/explore'));
      expect({ f, traces: traces.length }).toEqual({ f, traces: 1 });
      const source = sources.find((s) => s.uid === exploreUid(traces[0].url!))!;
      expect(['jaeger', 'zipkin']).toContain(source.type);
      // Its URL is a compose service's query port.
      const { hostname, port } = new URL(source.url);
      expect(compose.services[hostname]).toBeDefined();
      expect(port).toBe(source.type === 'jaeger' ? '16686' : '9411');
    }
  });

  test('the dashboards provider reads the folder compose mounts the dashboards into, and Grafana starts on the meshlab dashboard', () => {
    const provider = (YAML.parse(fs.readFileSync(path.join(GRAFANA, 'provisioning', 'dashboards', 'meshlab.yml'), 'utf8')) as { providers: { options: { path: string } }[] }).providers[0];
    const grafana = compose.services.grafana;
    expect(grafana.volumes).toContain(`./deploy/grafana/dashboards:${provider.options.path}:ro`);
    expect(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${provider.options.path}/meshlab.json`);
    expect(Object.keys(boards).sort()).toEqual(['istio-mesh.json', 'istio-service.json', 'istio-workload.json', 'meshlab.json']);
    expect(new Set(Object.values(boards).map((d) => d.uid)).size).toBe(4);
  });
});
