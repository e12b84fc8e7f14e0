/**
 * Generates `compose.yaml` and `deploy/prometheus/prometheus.yml` from the topology in code, so the
 * Docker world and the embedded world cannot drift (a test fails when the committed files differ
 * from what this produces). Pure functions: objects in, YAML text out.
 */
import YAML from 'yaml';
import { SIDECAR_NODE_FLAGS } from '../mesh/sidecar/node-flags';
import { DEFAULT_TOPOLOGY, localityLabels, type ExternalSystemSpec, type Topology } from './topology';
import { credentialNodes, SECRET_VOLUMES, SECRETS } from './compose-credentials';
import { CONTAINER, INFRA_PORTS, IMAGE_BUILDER, NODE_IMAGE, POD_PORTS, GATEWAY_SERVICE, HOST_ADMIN_PORT_BASE, MAIL_PROVIDER_CA_DIR, MAIL_PROVIDER_PORTS, WORLD_CONFIG_FILE, brokerCaptures, brokerEdgesOf, brokerRedirects, edgesOf, podsOf, publishedPort, type ComposePod } from './compose-layout';
import { mailProviderServiceEntry, mailProviderTls } from './external/registration';

/** Pinned third-party images (multi-arch: amd64 and arm64). */
export const IMAGES = {
  kafka: 'apache/kafka:3.9.1',
  rabbitmq: 'rabbitmq:4.1.0-management',
  toxiproxy: 'ghcr.io/shopify/toxiproxy:2.12.0',
  prometheus: 'prom/prometheus:v3.5.0',
  grafana: 'grafana/grafana:12.0.0',
  jaeger: 'jaegertracing/jaeger:2.10.0',
} as const;

export const COMPOSE_FILE = 'compose.yaml';
/** The Grafana provisioning folders deploy/grafana/provisioning provides, each mounted on its own. */
export const GRAFANA_PROVISIONING = ['datasources', 'dashboards'] as const;
export const PROMETHEUS_FILE = 'deploy/prometheus/prometheus.yml';

const GENERATED_NOTE = (what: string): string =>
  `${what}\nGenerated from world/topology.ts by \`npm run compose:generate\` (world/compose-generate.ts). Do not edit by hand:\ntest/compose checks that this file equals the generator's output.`;

type Service = Record<string, unknown>;
type Healthcheck = { test: string[]; interval: string; timeout: string; retries: number; start_period: string };

function health(test: string[], opts: Partial<Omit<Healthcheck, 'test'>> = {}): Healthcheck {
  return { test, interval: opts.interval ?? '2s', timeout: opts.timeout ?? '3s', retries: opts.retries ?? 30, start_period: opts.start_period ?? '5s' };
}

/** A probe run with the image's own node (the slim image has no curl/wget). */
function nodeProbe(url: string): string[] {
  return ['CMD', 'node', '-e', `fetch('${url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`];
}

/** Sidecar readiness: connected to the control plane and (sidecars) its app answering /healthz. */
function sidecarProbe(requireApp: boolean): string[] {
  const cond = requireApp ? 'j.controlPlane && j.appHealthy' : 'j.controlPlane';
  return ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${POD_PORTS.admin}/ready').then((r) => r.json()).then((j) => process.exit(${cond} ? 0 : 1), () => process.exit(1))`];
}

const healthy = { condition: 'service_healthy' };

/**
 * A Node part of the world, running NODE_IMAGE. Only IMAGE_BUILDER builds it, with `pull_policy: build`
 * (rebuilt at every `up`, so a change is never run from a stale image; the layer cache makes an
 * unchanged tree a no-op). The others name the image with `pull_policy: never`: compose builds before
 * it creates any container, and neither `up` nor `pull` asks a registry for a local tag. Thirteen
 * services building one tag would export it concurrently under `buildx bake` and fail with "image
 * already exists" on the containerd image store.
 */
function nodeService(name: string, entry: string, extra: Service): Service {
  const image = name === IMAGE_BUILDER
    ? { image: NODE_IMAGE, build: { context: '.', dockerfile: 'Dockerfile' }, pull_policy: 'build' }
    : { image: NODE_IMAGE, pull_policy: 'never' };
  // The sidecar's Node flags (mesh/sidecar/node-flags.ts) wherever it runs: the gateway is the same program.
  const flags = entry === 'mesh/sidecar/main.js' ? SIDECAR_NODE_FLAGS : [];
  return { ...image, command: ['node', ...flags, `dist/${entry}`], ...extra };
}

function otel(service: string): Record<string, string> {
  return {
    // Where OTLP traces go; the sidecar keeps spans in memory (admin /traces) and does not export OTLP yet.
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://${CONTAINER.jaeger}:${INFRA_PORTS.jaegerOtlpHttp}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_SERVICE_NAME: service,
  };
}

function meshEnv(): Record<string, string> {
  return {
    MESH_HOST: '0.0.0.0',
    MESH_CP_URL: `http://${CONTAINER.controlPlane}:${INFRA_PORTS.controlPlane}`,
    MESH_INBOUND_PORT: String(POD_PORTS.inbound),
    MESH_OUTBOUND_PORT: String(POD_PORTS.outbound),
    MESH_ADMIN_PORT: String(POD_PORTS.admin),
  };
}

/** The variables that tell a service the names of the external systems it calls. */
function externalEnv(topology: Topology, service: string): Record<string, string> {
  return Object.fromEntries((topology.externals ?? []).filter((x) => x.callers[service]).map((x) => [x.callers[service], x.host]));
}

/**
 * Every proxy compiles the external system's DestinationRule, so every one reads its caCertificates (Envoy too
 * would fail the cluster without the file): the provider's public CA, mounted read-only where the generated
 * registration says, once the provider has written it.
 */
function externalCa(topology: Topology): { volumes: string[]; dependsOn: Record<string, { condition: string }> } {
  if (!mailProviderOf(topology)) return { volumes: [], dependsOn: {} };
  return { volumes: [`mail-provider-ca:${MAIL_PROVIDER_CA_DIR}:ro`], dependsOn: { [CONTAINER.mailProvider]: healthy } };
}

function mailProviderOf(topology: Topology): ExternalSystemSpec | undefined {
  return topology.externals?.find((x) => x.name === CONTAINER.mailProvider);
}

function appService(topology: Topology, pod: ComposePod): Service {
  const { spec } = pod;
  return nodeService(pod.app, spec.service.entry, {
    environment: {
      SERVICE_NAME: spec.service.name,
      SERVICE_VERSION: spec.version,
      INSTANCE_ID: spec.id,
      HOST: '127.0.0.1',
      PORT: String(POD_PORTS.app),
      LAB_PORT: String(POD_PORTS.lab),
      DATA_DIR: '/data',
      MESH_OUTBOUND_URL: `http://127.0.0.1:${POD_PORTS.outbound}`,
      BUS_KIND: '${MESHLAB_BUS_KIND:-kafka}',
      BUS_URL: `\${MESHLAB_BUS_URL:-${CONTAINER.kafka}:${INFRA_PORTS.kafka}}`,
      // The pod's capture (istio-init's iptables rules, bus/capture.ts): its broker connections go to its sidecar.
      ...(spec.service.bus ? { MESH_TCP_REDIRECT: JSON.stringify(brokerRedirects()) } : {}),
      // The external systems it calls, by name (world/topology.ts `externals`), as the embedded world tells it.
      ...externalEnv(topology, spec.service.name),
    },
    volumes: ['meshlab-data:/data'],
    // The pod's network namespace belongs to this container, so its sidecar's ports are published here.
    ports: [`127.0.0.1:${pod.hostAdminPort}:${POD_PORTS.admin}`, `127.0.0.1:${pod.hostInboundPort}:${POD_PORTS.inbound}`],
    labels: { 'meshlab.role': 'app', 'meshlab.instance': spec.id, 'meshlab.service': spec.service.name, 'meshlab.version': spec.version, ...localityLabels(spec.locality) },
    healthcheck: health(nodeProbe(`http://127.0.0.1:${POD_PORTS.app}/healthz`)),
    depends_on: { [CONTAINER.kafka]: healthy, [CONTAINER.rabbitmq]: healthy },
  });
}

/** The image's unprivileged user (node:node in the official Node images): the owner of every secret file. */
const NODE_USER = '1000:1000';

/** A node's own workload token, mounted read-only where MESH_TOKEN_FILE points (world/compose-credentials.ts). */
function tokenMount(node: string): { env: Record<string, string>; volume: string } {
  return { env: { MESH_TOKEN_FILE: `${SECRETS.mount}/token` }, volume: `${SECRET_VOLUMES.node(node)}:${SECRETS.mount}:ro` };
}

const credentialsReady = { [CONTAINER.credentials]: healthy };

function sidecarService(topology: Topology, pod: ComposePod): Service {
  const { spec } = pod;
  const ca = externalCa(topology);
  return nodeService(pod.sidecar, 'mesh/sidecar/main.js', {
    network_mode: `service:${pod.app}`,
    environment: {
      ...meshEnv(),
      MESH_ROLE: 'sidecar',
      MESH_SERVICE: spec.service.name,
      MESH_VERSION: spec.version,
      MESH_INSTANCE: spec.id,
      MESH_LABELS: JSON.stringify({ app: spec.service.name, version: spec.version, ...localityLabels(spec.locality) }),
      MESH_ADVERTISE_HOST: pod.app,
      MESH_APP_PORT: String(POD_PORTS.app),
      // An outbound TCP listener per broker (world/broker-mesh.ts), on the pod port the app's capture table names.
      ...(spec.service.bus ? { MESH_TCP_CAPTURE: JSON.stringify(brokerCaptures()) } : {}),
      ...tokenMount(spec.id).env,
      ...otel(spec.service.name),
    },
    volumes: [tokenMount(spec.id).volume, ...ca.volumes],
    labels: { 'meshlab.role': 'sidecar', 'meshlab.instance': spec.id, 'meshlab.service': spec.service.name, 'meshlab.version': spec.version, ...localityLabels(spec.locality) },
    healthcheck: health(sidecarProbe(true)),
    depends_on: {
      [pod.app]: healthy,
      [CONTAINER.controlPlane]: healthy,
      [CONTAINER.chaosInit]: { condition: 'service_completed_successfully' },
      [CONTAINER.jaeger]: healthy,
      ...credentialsReady,
      ...ca.dependsOn,
    },
  });
}

/** The whole compose document for a topology, as a plain object (key order is the file's order). */
export function composeDocument(topology: Topology = DEFAULT_TOPOLOGY): Record<string, unknown> {
  const pods = podsOf(topology);
  const services: Record<string, Service> = {};

  services[CONTAINER.kafka] = {
    image: IMAGES.kafka,
    // Apache's single-node KRaft example: one process as broker and controller, replication factors 1.
    environment: {
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://:${INFRA_PORTS.kafka},CONTROLLER://:${INFRA_PORTS.kafkaController}`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${CONTAINER.kafka}:${INFRA_PORTS.kafka}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@${CONTAINER.kafka}:${INFRA_PORTS.kafkaController}`,
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_NUM_PARTITIONS: '3',
    },
    healthcheck: health(['CMD-SHELL', `/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:${INFRA_PORTS.kafka} > /dev/null 2>&1`], { interval: '5s', timeout: '20s', retries: 30, start_period: '20s' }),
  };
  services[CONTAINER.rabbitmq] = {
    image: IMAGES.rabbitmq,
    ports: [publishedPort('rabbitmqUi')],
    healthcheck: health(['CMD', 'rabbitmq-diagnostics', '-q', 'ping'], { interval: '5s', timeout: '20s', retries: 30, start_period: '20s' }),
  };
  services[CONTAINER.toxiproxy] = {
    image: IMAGES.toxiproxy,
    ports: [publishedPort('toxiproxyApi')],
    // The image is FROM scratch: its own CLI is the only probe there is.
    healthcheck: health(['CMD', '/toxiproxy-cli', 'list']),
  };
  services[CONTAINER.jaeger] = {
    image: IMAGES.jaeger,
    ports: [publishedPort('jaegerUi')],
    healthcheck: health(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:13133/status']),
  };
  services[CONTAINER.credentials] = nodeService(CONTAINER.credentials, 'world/compose-credentials.js', {
    // The kubelet's part: the signing key, the operator token and every node's short-lived token, each in the volume
    // only its consumer mounts. Root, to write volumes Docker creates root-owned; the files go to the node user, 0600.
    user: 'root',
    environment: { MESH_SECRETS_DIR: SECRETS.issuerRoot, MESH_SECRETS_OWNER: NODE_USER },
    volumes: [
      `${SECRET_VOLUMES.controlPlane}:${SECRETS.issuerRoot}/control-plane`,
      `${SECRET_VOLUMES.operator}:${SECRETS.issuerRoot}/operator`,
      ...credentialNodes(topology).map((n) => `${SECRET_VOLUMES.node(n.node)}:${SECRETS.issuerRoot}/nodes/${n.node}`),
    ],
    healthcheck: health(['CMD', 'node', '-e', `process.exit(require('fs').existsSync('${SECRETS.issuerRoot}/${SECRETS.issued}') ? 0 : 1)`]),
  });
  const mail = mailProviderOf(topology);
  services[CONTAINER.controlPlane] = nodeService(CONTAINER.controlPlane, 'mesh/control-plane/main.js', {
    environment: {
      MESH_HOST: '0.0.0.0',
      CP_PORT: String(INFRA_PORTS.controlPlane),
      CP_DATA_DIR: '/data/control-plane',
      MESH_SERVICES: topology.services.map((s) => s.name).join(','),
      // The same scheme as `npm start`: only tokens signed with this key, and the operator token, get in.
      CP_TOKEN_KEY_FILE: `${SECRETS.mount}/token-key`,
      CP_OPERATOR_TOKEN_FILE: `${SECRETS.mount}/operator-token`,
    },
    volumes: [
      'control-plane-data:/data',
      `${SECRET_VOLUMES.controlPlane}:${SECRETS.mount}:ro`,
      // The world's own registrations beside config/default, loaded with it on the first start (worldConfigYaml).
      ...(mail ? [`./${WORLD_CONFIG_FILE}:${WORLD_CONFIG_MOUNT}:ro`] : []),
    ],
    ports: [publishedPort('controlPlane')],
    healthcheck: health(nodeProbe(`http://127.0.0.1:${INFRA_PORTS.controlPlane}/healthz`)),
    depends_on: credentialsReady,
  });
  services[CONTAINER.chaosInit] = nodeService(CONTAINER.chaosInit, 'world/compose-init.js', {
    // One-shot: creates every edge proxy in Toxiproxy and tells the control plane. Safe to re-run.
    environment: {
      TOXIPROXY_URL: `http://${CONTAINER.toxiproxy}:${INFRA_PORTS.toxiproxyApi}`,
      MESH_CP_URL: `http://${CONTAINER.controlPlane}:${INFRA_PORTS.controlPlane}`,
      // Edge registration is the operator's: the operator token, and nothing else.
      MESHLAB_OPERATOR_TOKEN_FILE: `${SECRETS.mount}/operator-token`,
    },
    volumes: [`${SECRET_VOLUMES.operator}:${SECRETS.mount}:ro`],
    depends_on: { [CONTAINER.toxiproxy]: healthy, [CONTAINER.controlPlane]: healthy },
  });
  if (mail) {
    services[CONTAINER.mailProvider] = nodeService(CONTAINER.mailProvider, 'world/external/mail-provider-main.js', {
      // Outside the mesh: no sidecar, no token. Its PKI is made by its own code on first start and kept in its volume;
      // only its CA (public) goes to the volume the proxies mount. Its callers reach it by name through their sidecars.
      environment: {
        MESH_HOST: '0.0.0.0',
        MAIL_SERVER_NAME: mail.host,
        MAIL_PKI_DIR: '/data/pki',
        MAIL_CA_EXPORT_DIR: MAIL_PROVIDER_CA_DIR,
        MAIL_HTTP_PORT: String(MAIL_PROVIDER_PORTS.http),
        MAIL_TLS_PORT: String(MAIL_PROVIDER_PORTS.tls),
        MAIL_CONTROL_PORT: String(MAIL_PROVIDER_PORTS.control),
      },
      volumes: ['mail-provider-pki:/data', `mail-provider-ca:${MAIL_PROVIDER_CA_DIR}`],
      labels: { 'meshlab.role': 'external', 'meshlab.host': mail.host },
      healthcheck: health(nodeProbe(`http://127.0.0.1:${MAIL_PROVIDER_PORTS.control}/healthz`)),
    });
  }
  for (const pod of pods) {
    services[pod.app] = appService(topology, pod);
    services[pod.sidecar] = sidecarService(topology, pod);
  }
  services[CONTAINER.gateway] = nodeService(CONTAINER.gateway, 'mesh/sidecar/main.js', {
    environment: {
      ...meshEnv(),
      MESH_ROLE: 'gateway',
      MESH_SERVICE: GATEWAY_SERVICE,
      MESH_INSTANCE: 'gateway',
      MESH_OUTBOUND_PORT: String(INFRA_PORTS.gateway),
      MESH_ADVERTISE_HOST: CONTAINER.gateway,
      ...tokenMount('gateway').env,
      ...otel(GATEWAY_SERVICE),
    },
    volumes: [tokenMount('gateway').volume, ...externalCa(topology).volumes],
    ports: [publishedPort('gateway'), `127.0.0.1:${HOST_ADMIN_PORT_BASE}:${POD_PORTS.admin}`],
    labels: { 'meshlab.role': 'gateway', 'meshlab.instance': 'gateway' },
    healthcheck: health(sidecarProbe(false)),
    depends_on: {
      [CONTAINER.controlPlane]: healthy,
      [CONTAINER.chaosInit]: { condition: 'service_completed_successfully' },
      ...credentialsReady,
      ...externalCa(topology).dependsOn,
      ...Object.fromEntries(pods.map((p) => [p.sidecar, healthy])),
    },
  });
  services[CONTAINER.prometheus] = {
    image: IMAGES.prometheus,
    volumes: [`./${PROMETHEUS_FILE}:/etc/prometheus/prometheus.yml:ro`],
    ports: [publishedPort('prometheus')],
    healthcheck: health(['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${INFRA_PORTS.prometheus}/-/ready`]),
  };
  services[CONTAINER.grafana] = {
    image: IMAGES.grafana,
    environment: {
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/var/lib/grafana/dashboards/meshlab.json',
    },
    // Only the provisioning folders we provide: a mount over /etc/grafana/provisioning would hide the image's others (alerting, plugins).
    volumes: [...GRAFANA_PROVISIONING.map((d) => `./deploy/grafana/provisioning/${d}:/etc/grafana/provisioning/${d}:ro`), './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro'],
    ports: [publishedPort('grafana')],
    healthcheck: health(['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${INFRA_PORTS.grafana}/api/health`], { start_period: '10s' }),
    depends_on: { [CONTAINER.prometheus]: healthy },
  };

  // No top-level `name`: docker-compose 1.x rejects it; the project is named after the folder.
  return {
    services,
    volumes: {
      'meshlab-data': {},
      'control-plane-data': {},
      [SECRET_VOLUMES.controlPlane]: {},
      [SECRET_VOLUMES.operator]: {},
      ...Object.fromEntries(credentialNodes(topology).map((n) => [SECRET_VOLUMES.node(n.node), {}])),
      ...(mail ? { 'mail-provider-pki': {}, 'mail-provider-ca': {} } : {}),
    },
  };
}

/** Where the control plane finds the world's registrations: inside the image's config/default, which it loads on its first start. */
export const WORLD_CONFIG_MOUNT = '/app/config/default/world-mail-provider.yaml';

/**
 * The compose world's own mesh registration of its external systems, as `npm start`'s registerExternals() applies
 * it: the mail provider's ServiceEntry (port 80 to its TLS port, resolved by DNS to the `mail-provider` container)
 * and the DestinationRule that originates TLS with its CA, at the path every proxy has it mounted.
 */
export function worldConfigYaml(topology: Topology = DEFAULT_TOPOLOGY): string | undefined {
  const mail = mailProviderOf(topology);
  if (!mail) return undefined;
  const p = { host: mail.host, tlsPort: MAIL_PROVIDER_PORTS.tls, address: CONTAINER.mailProvider, resolution: 'DNS' as const, caFile: `${MAIL_PROVIDER_CA_DIR}/ca.pem` };
  return `${GENERATED_NOTE('The compose world\'s registration of its external mail provider (world/external/registration.ts).').split('\n').map((l) => `# ${l}`).join('\n')}\n${mailProviderServiceEntry(p)}---\n${mailProviderTls(p)}`;
}

/** One Prometheus scrape target with its static labels. */
export interface ScrapeTarget {
  job: 'meshlab-sidecars' | 'meshlab-services';
  address: string;
  labels: Record<string, string>;
}

/** The compose world's targets: every sidecar's and the gateway's admin /metrics, and every app's /metrics. */
export function composeScrapeTargets(topology: Topology = DEFAULT_TOPOLOGY): ScrapeTarget[] {
  const out: ScrapeTarget[] = [{ job: 'meshlab-sidecars', address: `${CONTAINER.gateway}:${POD_PORTS.admin}`, labels: { pod: 'gateway', role: 'gateway' } }];
  for (const pod of podsOf(topology)) {
    out.push({ job: 'meshlab-sidecars', address: `${pod.app}:${POD_PORTS.admin}`, labels: { pod: pod.app, role: 'sidecar' } });
  }
  // Apps listen on the pod's loopback only: their sidecar serves their /metrics on its admin port (Istio's metrics merging).
  for (const pod of podsOf(topology)) {
    out.push({ job: 'meshlab-services', address: `${pod.app}:${POD_PORTS.admin}`, labels: { pod: pod.app, role: 'app' } });
  }
  return out;
}

export interface PrometheusOptions {
  scrapeInterval?: string;
  /** Also scrape Prometheus itself at this address. */
  self?: string;
}

/** A prometheus.yml document: one job per target kind, one static group per target (so each keeps its labels). */
export function prometheusDocument(targets: ScrapeTarget[], opts: PrometheusOptions = {}): Record<string, unknown> {
  const interval = opts.scrapeInterval ?? '5s';
  const jobs = [...new Set(targets.map((t) => t.job))];
  const scrape_configs: Record<string, unknown>[] = jobs.map((job) => ({
    job_name: job,
    metrics_path: job === 'meshlab-services' ? '/stats/app' : '/metrics',
    // Apps label their own metrics with service/version/instance; keep those rather than renaming them exported_*.
    ...(job === 'meshlab-services' ? { honor_labels: true } : {}),
    static_configs: targets.filter((t) => t.job === job).map((t) => ({ targets: [t.address], labels: t.labels })),
  }));
  if (opts.self) scrape_configs.unshift({ job_name: 'prometheus', static_configs: [{ targets: [opts.self] }] });
  return { global: { scrape_interval: interval, evaluation_interval: interval }, scrape_configs };
}

/** Short lists a reader scans as one command (healthcheck tests, commands, scrape targets) print on one line. */
const FLOW_KEYS = new Set(['test', 'command', 'targets']);

function toYaml(doc: unknown, note: string): string {
  const document = new YAML.Document(doc, { aliasDuplicateObjects: false });
  YAML.visit(document, {
    Pair(_key, pair) {
      if (YAML.isScalar(pair.key) && FLOW_KEYS.has(String(pair.key.value)) && YAML.isSeq(pair.value)) pair.value.flow = true;
    },
  });
  const body = document.toString({ lineWidth: 0, minContentWidth: 0, flowCollectionPadding: false });
  return `${note.split('\n').map((l) => `# ${l}`).join('\n')}\n${body}`;
}

export function composeYaml(topology: Topology = DEFAULT_TOPOLOGY): string {
  const edges = edgesOf(topology).length + brokerEdgesOf(topology).length;
  const mail = mailProviderOf(topology);
  return toYaml(composeDocument(topology), GENERATED_NOTE(`meshlab demo world: ${podsOf(topology).length} pods (app + sidecar sharing a network namespace), ${edges} Toxiproxy edges (${brokerEdgesOf(topology).length} of them to the brokers), Kafka, RabbitMQ${mail ? `, the external mail provider (${mail.host})` : ''}, Prometheus, Grafana, Jaeger.`));
}

export function prometheusYaml(topology: Topology = DEFAULT_TOPOLOGY): string {
  return toYaml(prometheusDocument(composeScrapeTargets(topology), { self: `localhost:${INFRA_PORTS.prometheus}` }), GENERATED_NOTE('Prometheus scrape config for the compose world.'));
}

/** Every generated file: repository-relative path → content. */
export function generatedFiles(topology: Topology = DEFAULT_TOPOLOGY): Record<string, string> {
  const world = worldConfigYaml(topology);
  return { [COMPOSE_FILE]: composeYaml(topology), [PROMETHEUS_FILE]: prometheusYaml(topology), ...(world ? { [WORLD_CONFIG_FILE]: world } : {}) };
}
