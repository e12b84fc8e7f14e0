import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import http from 'node:http';
import { ManagedProcess, ProcessSpec, Role } from './process';
import { DEFAULT_TOPOLOGY, InstanceSpec, Topology, declaredServices, instancesOf, namespaceOf, localityLabels, type ExternalSystemSpec } from './topology';
import { InstanceInfo, ProcessInfo, WorldState, removeState, writeState } from './state';
import type { ApplyOutcome } from '../mesh/control-plane/config-service';
import { applyConfig, deleteConfig, waitForSync } from './config-client';
import { ChaosClient } from '../chaos/client';
import { ensureEdgeProxies, postEdges, type Edge } from './edges';
import { WorldCredentials } from './credentials';
import { operatorHeaders } from '../lib/cp-auth';
import { GATEWAY_HOLD_ENV, openGateway } from './gateway-open';
import { freePort, prometheusProcess, reloadPrometheus, writePrometheusConfig, zipkinProcess, type BackendProcess } from './observability';
import type { ScrapeTarget } from './compose-generate';
import { formatProxyConfig } from '../mesh/telemetry/proxy-config';
import { mailProviderServiceEntry, mailProviderTls } from './external/registration';
import { appBusEnv, brokerCapture, busServices, capturePortKey, ensureBrokerEdges, registerBroker, type BrokerCapture } from './broker-mesh';
import { ensureServerCredential } from '../mesh/gateway/certs';

/** Root of the compiled tree (dist/), where every process's entry module lives. */
const DIST = path.resolve(__dirname, '..');

export interface BusOption {
  kind: 'memory' | 'kafka' | 'rabbitmq';
  /** Broker address for kafka/rabbitmq; the memory broker is started by the world. */
  url?: string;
}

export interface WorldOptions {
  topology?: Topology;
  host?: string;
  /** Gateway port; 0 = ephemeral (tests). `npm start` uses 8080. */
  gatewayPort?: number;
  /** The gateway's HTTPS port (the Gateways' HTTPS servers, Istio's 443); 0 = ephemeral (tests). `npm start` uses 8443. */
  gatewayHttpsPort?: number;
  /** Control-plane port; 0 = ephemeral. `npm start` uses 15010. */
  controlPlanePort?: number;
  /** Where each service keeps its SQLite database; kept across restarts. */
  dataDir?: string;
  logDir?: string;
  /** Where to write the discoverable state file; false = none (tests). */
  stateFile?: string | false;
  bus?: BusOption;
  /**
   * Put every sidecar→sidecar hop behind the chaos server (a Toxiproxy-compatible API): one proxy
   * per (calling service, destination instance), named `orders->payments-v1-0`. Port 0 = ephemeral;
   * false = no chaos server. `npm start` uses 8474.
   */
  chaosPort?: number | false;
  /** Mesh config loaded on the control plane's first start (default: config/default). */
  configDir?: string;
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /**
   * Real observability backends started with the world (`npm start -- --observability`): Zipkin and Prometheus.
   * Port 0 (the default) = a free port; `npm start` uses 9411 and 9090.
   */
  observability?: { zipkinPort?: number; prometheusPort?: number };
  /**
   * Every sidecar's tracing (Istio's ProxyConfig tracing, handed over as PROXY_CONFIG): sampling percent (Istio's
   * default 1), a Zipkin address (the world's own Zipkin when `observability` is on) and/or an OTLP/HTTP endpoint.
   */
  tracing?: { sampling?: number; zipkin?: string; otlp?: string };
  /**
   * Systems outside the mesh (world/external/): the mail provider that notifications sends confirmation mail to,
   * by name (`api.mail.example`) through its sidecar. Not registered in the mesh until `registerExternals()`
   * applies its ServiceEntry and DestinationRule (`npm start` does; the `egress` lab does it itself).
   */
  externals?: boolean;
  /** Called as processes come up, for progress output. */
  onProgress?: (message: string) => void;
  /** A real broker's connections through the services' sidecars (world/broker-mesh.ts); default true (RabbitMQ, and Kafka with one broker). */
  busThroughMesh?: boolean;
}

interface Instance {
  spec: InstanceSpec;
  app: ManagedProcess;
  sidecar: ManagedProcess;
}

/**
 * A running world: control plane, event bus, every service instance as an app process plus its
 * sidecar process, and the ingress gateway, each its own OS process on loopback.
 */
export class World {
  readonly options: Required<Omit<WorldOptions, 'bus' | 'env' | 'onProgress' | 'configDir' | 'observability' | 'tracing' | 'externals'>> & Pick<WorldOptions, 'bus' | 'env' | 'onProgress' | 'configDir' | 'observability' | 'tracing' | 'externals'>;
  /** The external mail provider (`externals`). */
  mailProvider?: ManagedProcess;
  zipkin?: BackendProcess;
  prometheus?: BackendProcess;
  chaos?: ManagedProcess;
  private chaosClient?: ChaosClient;
  /** Edge proxy addresses by `from->instance`, re-told to a restarted control plane. */
  private readonly edges = new Map<string, Edge>();
  /** The broker the bus-using sidecars carry (world/broker-mesh.ts), when the bus is a real broker through the mesh. */
  brokerCapture?: BrokerCapture;
  controlPlane!: ManagedProcess;
  gateway!: ManagedProcess;
  broker?: ManagedProcess;
  readonly instances = new Map<string, Instance>();
  busUrl = '';
  readyMs = 0;
  /** Signing key, operator token and each sidecar's workload token (world/credentials.ts). */
  credentials?: WorldCredentials;
  private startedAt = new Date();

  constructor(options: WorldOptions = {}) {
    const dataDir = options.dataDir ?? path.join(process.cwd(), '.meshlab', 'data');
    this.options = {
      topology: options.topology ?? DEFAULT_TOPOLOGY,
      host: options.host ?? '127.0.0.1',
      gatewayPort: options.gatewayPort ?? 0,
      gatewayHttpsPort: options.gatewayHttpsPort ?? 0,
      controlPlanePort: options.controlPlanePort ?? 0,
      dataDir,
      logDir: options.logDir ?? path.join(path.dirname(dataDir), 'logs'),
      stateFile: options.stateFile ?? false,
      bus: options.bus,
      chaosPort: options.chaosPort ?? 0,
      configDir: options.configDir,
      env: options.env,
      onProgress: options.onProgress,
      observability: options.observability,
      tracing: options.tracing,
      externals: options.externals,
      busThroughMesh: options.busThroughMesh ?? true,
    };
  }

  /** Starts everything and resolves once every sidecar and the gateway hold a config with every instance ready. */
  static async start(options: WorldOptions = {}): Promise<World> {
    const world = new World(options);
    try {
      await world.start();
    } catch (err) {
      await world.stop();
      throw err;
    }
    return world;
  }

  get controlPlaneUrl(): string {
    return `http://${this.options.host}:${this.controlPlane.ports.http}`;
  }

  get gatewayUrl(): string {
    return `http://${this.options.host}:${this.gateway.ports.outbound}`;
  }

  /** The gateway's HTTPS listener (config/default's `meshlab-gateway` 443 server). */
  get gatewayHttpsUrl(): string {
    return `https://${this.options.host}:${this.gateway.ports.https}`;
  }

  /** The gateway's TLS credentials (`credentialName` folders) and the CA that signed them (`curl --cacert`). */
  get credentialsDir(): string {
    return path.join(path.dirname(this.options.dataDir), 'credentials');
  }

  get gatewayCaFile(): string {
    return path.join(this.credentialsDir, 'ca.crt');
  }

  get chaosUrl(): string | undefined {
    if (this.options.chaosPort === false) return undefined;
    return this.externalChaosUrl ?? (this.chaos ? `http://${this.options.host}:${this.chaos.ports.http}` : undefined);
  }

  private get externalChaosUrl(): string | undefined {
    return this.options.chaosPort === false ? undefined : process.env.TOXIPROXY_URL?.replace(/\/$/, '') || undefined;
  }

  get busKind(): string {
    return this.options.bus?.kind ?? 'memory';
  }

  async start(): Promise<void> {
    const t0 = process.hrtime.bigint();
    this.startedAt = new Date();
    const { host, dataDir, logDir } = this.options;
    fs.mkdirSync(dataDir, { recursive: true });
    fs.mkdirSync(logDir, { recursive: true });
    this.credentials = new WorldCredentials(dataDir);

    this.controlPlane = this.process('control-plane', 'control-plane', 'mesh/control-plane/main.js', {
      ...this.credentials.controlPlaneEnv(),
      MESH_HOST: host,
      CP_PORT: String(this.options.controlPlanePort),
      CP_DATA_DIR: path.join(dataDir, 'control-plane'),
      CP_CREDENTIALS_DIR: this.credentialsDir,
      MESH_SERVICES: declaredServices(this.options.topology).join(','),
      ...(this.options.configDir ? { CP_CONFIG_DIR: this.options.configDir } : {}),
    });
    const bus = this.options.bus ?? { kind: 'memory' };
    if (bus.kind === 'memory') {
      this.broker = this.process('memory-broker', 'broker', 'bus/memory-broker-main.js', { MESH_HOST: host, PORT: '0' });
    }
    // A real Toxiproxy on this host (TOXIPROXY_URL) replaces the built-in chaos server.
    if (this.options.chaosPort !== false && !this.externalChaosUrl) {
      this.chaos = this.process('chaos', 'chaos', 'world/chaos-main.js', { MESH_HOST: host, CHAOS_PORT: String(this.options.chaosPort) });
    }
    const mail = this.externalSystem('mail-provider');
    if (mail) this.mailProvider = this.process(mail.name, 'external', 'world/external/mail-provider-main.js', { MESH_HOST: host, MAIL_PKI_DIR: this.mailProviderPkiDir, MAIL_SERVER_NAME: mail.host });
    const obs = this.options.observability;
    if (obs) this.zipkin = zipkinProcess({ host, port: obs.zipkinPort || (await freePort(host)), logDir });
    await Promise.all([this.controlPlane.start(), this.broker?.start(), this.chaos?.start(), this.zipkin?.start(120_000), this.mailProvider?.start()]);
    this.credentials.storeOperator(this.controlPlaneUrl);
    if (this.zipkin) this.progress(`zipkin ${this.zipkinUrl}`);
    if (this.chaosUrl) this.chaosClient = new ChaosClient(this.chaosUrl);
    this.busUrl = bus.kind === 'memory' ? `http://${host}:${this.broker!.ports.http}` : (bus.url ?? '');
    this.progress(`control plane ${this.controlPlaneUrl}, ${bus.kind} bus ${this.busUrl}`);
    if (this.options.busThroughMesh !== false) this.brokerCapture = brokerCapture(bus.kind, this.busUrl);
    if (this.brokerCapture) await this.announceBroker();

    for (const spec of instancesOf(this.options.topology)) this.instances.set(spec.id, this.instance(spec));
    // config/default's Gateway serves HTTPS with credentialName meshlab-gateway-cert: made once, kept across restarts.
    await ensureServerCredential(this.credentialsDir, 'meshlab-gateway-cert', ['shop.example.test', 'localhost', this.options.host]);
    this.gateway = this.process('gateway', 'gateway', 'mesh/sidecar/main.js', {
      ...this.meshEnv(),
      MESH_ROLE: 'gateway',
      MESH_SERVICE: 'istio-ingressgateway',
      MESH_INSTANCE: 'gateway',
      MESH_OUTBOUND_PORT: String(this.options.gatewayPort),
      MESH_HTTPS_PORT: String(this.options.gatewayHttpsPort),
      MESH_CREDENTIALS_DIR: this.credentialsDir,
      MESH_TOKEN_FILE: this.credentials.issue('gateway', 'istio-ingressgateway', 'gateway'),
      ...GATEWAY_HOLD_ENV,
    });
    await Promise.all([...[...this.instances.values()].map((i) => this.startInstance(i)), this.gateway.start()]);
    if (obs) await this.startPrometheus(obs.prometheusPort || (await freePort(host)));
    await this.waitForSync();
    // Until now the gateway answered 503 "starting": open it only once every endpoint is ready.
    await openGateway(this.gateway);
    await this.tellDashboard();
    this.readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (this.options.stateFile) writeState(this.options.stateFile, this.state());
  }

  /** Stops every process (sidecars and gateway first, then apps, bus and control plane) and removes the state file. */
  async stop(): Promise<void> {
    this.instanceControl?.close();
    const all = [...this.instances.values()];
    await Promise.all([this.gateway?.stop(), ...all.map((i) => i.app.stop())]);
    await Promise.all(all.map((i) => i.sidecar.stop()));
    await Promise.all([this.broker?.stop(), this.controlPlane?.stop(), this.chaos?.stop(), this.zipkin?.stop(), this.prometheus?.stop(), this.mailProvider?.stop()]);
    if (this.options.stateFile) removeState(this.options.stateFile);
    this.credentials?.close();
  }

  /** Kills an instance's app and sidecar without grace, as a crashed pod. */
  async killInstance(id: string): Promise<void> {
    const inst = this.mustInstance(id);
    await Promise.all([inst.app.kill(), inst.sidecar.kill()]);
    this.writeStateIfAny();
  }

  /** Starts a stopped or killed instance again (new ports), and waits until the mesh sees it ready. */
  async restartInstance(id: string): Promise<void> {
    const old = this.mustInstance(id);
    await Promise.all([old.app.stop(), old.sidecar.stop()]);
    const fresh = this.instance(old.spec);
    this.instances.set(id, fresh);
    await this.startInstance(fresh);
    await this.waitForSync();
    await this.tellDashboard();
    await this.retargetPrometheus();
    this.writeStateIfAny();
  }

  get zipkinUrl(): string | undefined {
    return this.zipkin ? `http://${this.options.host}:${this.zipkin.port}` : undefined;
  }

  get prometheusUrl(): string | undefined {
    return this.prometheus ? `http://${this.options.host}:${this.prometheus.port}` : undefined;
  }

  /** What Prometheus scrapes: the compose world's jobs and labels, at this world's admin ports. */
  scrapeTargets(): ScrapeTarget[] {
    const { host } = this.options;
    const out: ScrapeTarget[] = [{ job: 'meshlab-sidecars', address: `${host}:${this.gateway.ports.admin}`, labels: { pod: 'gateway', role: 'gateway' } }];
    const live = [...this.instances.values()].filter((i) => i.sidecar.running);
    for (const i of live) out.push({ job: 'meshlab-sidecars', address: `${host}:${i.sidecar.ports.admin}`, labels: { pod: i.spec.id, role: 'sidecar' } });
    for (const i of live) out.push({ job: 'meshlab-services', address: `${host}:${i.sidecar.ports.admin}`, labels: { pod: i.spec.id, role: 'app' } });
    return out;
  }

  private get prometheusConfigFile(): string {
    return path.join(path.dirname(this.options.dataDir), 'prometheus', 'prometheus.yml');
  }

  private async startPrometheus(port: number): Promise<void> {
    const { host } = this.options;
    writePrometheusConfig(this.prometheusConfigFile, this.scrapeTargets(), `${host}:${port}`);
    this.prometheus = prometheusProcess({ host, port, logDir: this.options.logDir, dataDir: path.join(path.dirname(this.prometheusConfigFile), 'data'), configFile: this.prometheusConfigFile });
    await this.prometheus.start(60_000);
    this.progress(`prometheus ${this.prometheusUrl}`);
  }

  /** A restarted instance has new ports: rewrite the targets and reload Prometheus. */
  private async retargetPrometheus(): Promise<void> {
    if (!this.prometheus) return;
    writePrometheusConfig(this.prometheusConfigFile, this.scrapeTargets(), `${this.options.host}:${this.prometheus.port}`);
    await reloadPrometheus(this.prometheusUrl!);
  }

  /**
   * Applies Istio YAML through the control plane (validated as a whole, all-or-nothing) and waits
   * until every sidecar has ACKed the new config. Throws with the analyzer's messages if rejected.
   */
  async applyConfig(files: { name: string; text: string }[]): Promise<ApplyOutcome> {
    const out = await applyConfig(this.controlPlaneUrl, files);
    await this.waitForSync();
    return out;
  }

  /** Deletes resources by kind and name and waits for every sidecar to have the result. */
  async deleteConfig(refs: { kind: string; name: string }[]): Promise<ApplyOutcome> {
    const out = await deleteConfig(this.controlPlaneUrl, refs);
    await this.waitForSync();
    return out;
  }

  /**
   * Stops the control plane (SIGKILL when `crash`), then starts it again on the same port. Sidecars
   * keep serving with their last config meanwhile and resubscribe by themselves.
   */
  async stopControlPlane(crash = false): Promise<void> {
    await (crash ? this.controlPlane.kill() : this.controlPlane.stop());
  }

  async startControlPlane(): Promise<void> {
    const port = this.controlPlane.ports.http;
    this.controlPlane = new ManagedProcess({ ...this.controlPlane.spec, env: { ...this.controlPlane.spec.env, CP_PORT: String(port) } });
    await this.controlPlane.start();
    await postEdges(this.controlPlaneUrl, [...this.edges.values()]);
    if (this.brokerCapture) await this.announceBroker();
    await this.waitForSync();
    await this.tellDashboard();
    this.writeStateIfAny();
  }

  // ── live instances: add, remove, replace (rolling updates) ──────────────────────────────────

  /** Starts a new instance of `service` at `version` (the next free index); resolves once the mesh routes to it. */
  async addInstance(service: string, version: string): Promise<string> {
    const svc = this.options.topology.services.find((s) => s.name === service);
    if (!svc) throw new Error(`no service "${service}"; services: ${this.options.topology.services.map((s) => s.name).join(', ')}`);
    if (!/^v[\w.-]+$/.test(version)) throw new Error(`version must look like v2 or v1.1, got "${version}"`);
    let index = 0;
    while (this.instances.has(`${service}-${version}-${index}`)) index++;
    const id = `${service}-${version}-${index}`;
    const spec = { id, locality: svc.localities?.[id] ?? this.options.topology.locality ?? '', service: svc, version, index };
    const inst = this.instance(spec);
    this.instances.set(spec.id, inst);
    await this.startInstance(inst);
    // Ready before traffic: the endpoint joins only once its sidecar saw the app healthy; wait until every sidecar has it.
    await this.waitForSync();
    await this.tellDashboard();
    this.writeStateIfAny();
    return spec.id;
  }

  /**
   * Removes an instance gracefully: its readiness probe fails (so the mesh takes its endpoint out and
   * every sidecar ACKs that), its sidecar drains the requests already on their way, then it and the app stop.
   */
  async removeInstance(id: string): Promise<void> {
    const inst = this.mustInstance(id);
    const ready = [...this.instances.values()].filter((i) => i.app.running).length - 1;
    if (inst.app.running && inst.app.ports.lab) {
      const res = await fetch(`http://${this.options.host}:${inst.app.ports.lab}/lab/sick`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ready: false }) });
      await res.arrayBuffer();
      await waitForSync(this.controlPlaneUrl, ready);
    }
    // The sidecar first: it drains (requests still on their way in finish, through the app that is still up), then the app.
    await inst.sidecar.stop();
    await inst.app.stop();
    this.instances.delete(id);
    await this.tellDashboard();
    this.writeStateIfAny();
  }

  /** A rolling-update step (maxSurge 1, maxUnavailable 0): the new instance ready first, then the old one drained. */
  async replaceInstance(id: string, version: string): Promise<string> {
    const old = this.mustInstance(id);
    const fresh = await this.addInstance(old.spec.service.name, version);
    await this.removeInstance(id);
    return fresh;
  }

  private instanceControl?: http.Server;
  /** Where `meshlab scale` / `meshlab rollout` reach this world (serveInstanceControl), if anywhere. */
  instanceControlUrl?: string;
  private instanceOps: Promise<unknown> = Promise.resolve();

  /**
   * A loopback HTTP API for live instances, so `meshlab scale` and `meshlab rollout` in another
   * terminal can change the world `npm start` runs: POST /v1/world/scale {service, version, replicas},
   * POST /v1/world/rollout {service, from, to}, GET /v1/world/instances. Operations run one at a time.
   */
  async serveInstanceControl(port = 0): Promise<string> {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const send = (status: number, out: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(out));
        };
        const list = (): { id: string; service: string; version: string }[] => [...this.instances.values()].map((i) => ({ id: i.spec.id, service: i.spec.service.name, version: i.spec.version }));
        if (req.method === 'GET' && req.url === '/v1/world/instances') return send(200, { instances: list() });
        let input: Record<string, unknown>;
        try {
          input = JSON.parse(body || '{}') as Record<string, unknown>;
        } catch {
          return send(400, { error: 'body must be JSON' });
        }
        const service = this.options.topology.services.find((x) => x.name === input.service);
        const version = (v: unknown): v is string => typeof v === 'string' && /^v[\w.-]+$/.test(v);
        const problems: string[] = [];
        if (!service) problems.push(`service must be one of ${this.options.topology.services.map((x) => x.name).join(', ')}, got ${JSON.stringify(input.service)}`);
        let op: (() => Promise<unknown>) | undefined;
        if (req.method === 'POST' && req.url === '/v1/world/scale') {
          const replicas = input.replicas;
          if (!version(input.version)) problems.push(`version must look like v1 or v3, got ${JSON.stringify(input.version)}`);
          if (!(typeof replicas === 'number' && Number.isInteger(replicas) && replicas >= 0 && replicas <= 10)) problems.push(`replicas must be an integer from 0 to 10, got ${JSON.stringify(replicas)}`);
          if (!problems.length) {
            const name = service!.name;
            const v = input.version as string;
            const others = [...this.instances.values()].filter((i) => i.spec.service.name === name && i.spec.version !== v).length;
            if ((replicas as number) === 0 && others === 0) problems.push(`scaling ${name} ${v} to 0 would leave ${name} without any instance`);
            op = async () => {
              const mine = (): string[] => [...this.instances.values()].filter((i) => i.spec.service.name === name && i.spec.version === v).map((i) => i.spec.id).sort();
              const added: string[] = [];
              const removed: string[] = [];
              while (mine().length < (replicas as number)) added.push(await this.addInstance(name, v));
              while (mine().length > (replicas as number)) {
                const id = mine().pop()!;
                await this.removeInstance(id);
                removed.push(id);
              }
              return { added, removed, instances: list() };
            };
          }
        } else if (req.method === 'POST' && req.url === '/v1/world/rollout') {
          if (!version(input.from)) problems.push(`from must look like v1, got ${JSON.stringify(input.from)}`);
          if (!version(input.to)) problems.push(`to must look like v3, got ${JSON.stringify(input.to)}`);
          if (!problems.length && input.from === input.to) problems.push('from and to must differ');
          const olds = [...this.instances.values()].filter((i) => i.spec.service.name === service?.name && i.spec.version === input.from).map((i) => i.spec.id);
          if (!problems.length && olds.length === 0) problems.push(`no ${service!.name} instance runs ${String(input.from)}`);
          if (!problems.length) {
            op = async () => {
              const steps: { replaced: string; by: string }[] = [];
              for (const id of olds) steps.push({ replaced: id, by: await this.replaceInstance(id, input.to as string) });
              return { steps, instances: list() };
            };
          }
        } else return send(404, { error: `no ${req.method} ${req.url}; try POST /v1/world/scale, POST /v1/world/rollout, GET /v1/world/instances` });
        if (problems.length || !op) return send(400, { error: problems.join('; ') });
        const run = this.instanceOps.then(op, op);
        this.instanceOps = run.catch(() => undefined);
        run.then((out) => send(200, out), (err: Error) => send(500, { error: err.message }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => resolve());
    });
    this.instanceControl = server;
    this.instanceControlUrl = `http://${this.options.host}:${(server.address() as { port: number }).port}`;
    this.writeStateIfAny();
    return this.instanceControlUrl;
  }

  /** Ready-endpoint count and config sync, from the control plane's point of view. */
  async waitForSync(timeoutMs = 10000): Promise<void> {
    await waitForSync(this.controlPlaneUrl, [...this.instances.values()].filter((i) => i.app.running).length, timeoutMs);
  }

  instance(spec: InstanceSpec): Instance {
    const { host, dataDir } = this.options;
    const labels = { app: spec.service.name, version: spec.version, ...localityLabels(spec.locality) };
    const sidecar = this.process(`${spec.id}-sidecar`, 'sidecar', 'mesh/sidecar/main.js', {
      ...this.meshEnv(),
      MESH_ROLE: 'sidecar',
      MESH_SERVICE: spec.service.name,
      MESH_VERSION: spec.version,
      MESH_INSTANCE: spec.id,
      MESH_LABELS: JSON.stringify(labels),
      POD_NAMESPACE: namespaceOf(this.options.topology, spec.service),
      ...(this.brokerCapture && spec.service.bus ? { MESH_TCP_CAPTURE: JSON.stringify([{ service: this.brokerCapture.service, port: this.brokerCapture.port }]) } : {}),
    }, spec);
    const app = this.process(spec.id, 'app', spec.service.entry, {
      SERVICE_NAME: spec.service.name,
      SERVICE_VERSION: spec.version,
      INSTANCE_ID: spec.id,
      HOST: host,
      PORT: '0',
      LAB_PORT: '0',
      DATA_DIR: dataDir,
      BUS_KIND: this.busKind,
      BUS_URL: this.busUrl,
      // The external systems it calls, by name (world/topology.ts `externals`).
      ...Object.fromEntries((this.options.externals ? (this.options.topology.externals ?? []) : []).filter((x) => x.callers[spec.service.name]).map((x) => [x.callers[spec.service.name], x.host])),
      // The apps' own spans (publishing and consuming events) go to the same Zipkin as the sidecars'.
      ...(this.zipkinAddress ? { OTEL_EXPORTER_ZIPKIN_ENDPOINT: `http://${this.zipkinAddress}/api/v2/spans` } : {}),
    }, spec);
    return { spec, app, sidecar };
  }

  /** A pod comes up: the sidecar first (so the app has a way out), then the app, then the sidecar learns the app's port. */
  private async startInstance(inst: Instance): Promise<void> {
    if (this.credentials) inst.sidecar.spec.env.MESH_TOKEN_FILE = this.credentials.issue(inst.spec.id, inst.spec.service.name, 'sidecar');
    const sidecarPorts = await inst.sidecar.start();
    await this.registerEdges(inst.spec, sidecarPorts.inbound);
    inst.app.spec.env.MESH_OUTBOUND_URL = `http://${this.options.host}:${sidecarPorts.outbound}`;
    const brokerPort = this.brokerCapture && sidecarPorts[capturePortKey(this.brokerCapture)];
    if (brokerPort) Object.assign(inst.app.spec.env, appBusEnv(this.brokerCapture!, this.busUrl, this.options.host, brokerPort));
    const appPorts = await inst.app.start();
    inst.sidecar.send({ type: 'app', port: appPorts.http });
  }

  /** The broker's endpoint to the control plane, and (with a chaos server) each bus-using service's edge proxy to it. */
  private async announceBroker(): Promise<void> {
    const c = this.brokerCapture!;
    await registerBroker(this.controlPlaneUrl, c);
    if (this.chaosClient) for (const e of await ensureBrokerEdges(this.chaosClient, this.controlPlaneUrl, this.options.topology, c, this.options.host)) this.edges.set(`${e.from}->${e.instance}`, e);
    this.progress(`${c.service} through the mesh: ${busServices(this.options.topology).join(', ')} reach ${c.target.host}:${c.target.port} through their sidecars`);
  }

  /** Tells the control plane's dashboard where the chaos server and each instance's lab control are. */
  private async tellDashboard(): Promise<void> {
    const labs = [...this.instances.values()].filter((i) => i.app.running).map((i) => ({ instance: i.spec.id, url: `http://${this.options.host}:${i.app.ports.lab}` }));
    const res = await fetch(`${this.controlPlaneUrl}/v1/dashboard/world`, { method: 'POST', headers: { 'content-type': 'application/json', ...operatorHeaders(this.controlPlaneUrl) }, body: JSON.stringify({ chaosUrl: this.chaosUrl, labs, ...(this.zipkin ? { zipkinUrl: this.zipkinUrl } : {}), ...(this.prometheus ? { prometheusUrl: this.prometheusUrl } : {}) }) });
    await res.arrayBuffer();
  }

  /** Creates (or re-points, after a restart) the chaos proxies into this instance and tells the control plane. */
  private async registerEdges(spec: InstanceSpec, inboundPort: number): Promise<void> {
    if (!this.chaosClient) return;
    const { host, topology } = this.options;
    const edges = await ensureEdgeProxies(this.chaosClient, topology, spec.service.name, spec.id, `${host}:${inboundPort}`, { advertise: host });
    for (const e of edges) this.edges.set(`${e.from}->${e.instance}`, e);
    await postEdges(this.controlPlaneUrl, edges);
  }

  private meshEnv(): Record<string, string> {
    return { MESH_HOST: this.options.host, MESH_CP_URL: this.controlPlaneUrl, MESH_INBOUND_PORT: '0', MESH_OUTBOUND_PORT: '0', MESH_ADMIN_PORT: '0', ...this.tracingEnv() };
  }

  /** PROXY_CONFIG (Istio's ProxyConfig tracing) and the OTLP endpoint, when the world traces. */
  private get zipkinAddress(): string | undefined {
    return this.options.tracing?.zipkin ?? (this.zipkin ? `${this.options.host}:${this.zipkin.port}` : undefined);
  }

  private tracingEnv(): Record<string, string> {
    const t = this.options.tracing;
    const zipkin = this.zipkinAddress;
    if (!t && !zipkin) return {};
    return { PROXY_CONFIG: formatProxyConfig({ sampling: t?.sampling ?? 1, zipkin }), ...(t?.otlp ? { OTEL_EXPORTER_OTLP_ENDPOINT: t.otlp } : {}) };
  }

  private process(name: string, role: Role, entry: string, env: Record<string, string>, spec?: InstanceSpec): ManagedProcess {
    const p: ProcessSpec = {
      name,
      role,
      entry: path.join(DIST, entry),
      env: { ...this.options.env, ...env },
      logFile: path.join(this.options.logDir, `${name}.log`),
      service: spec?.service.name,
      version: spec?.version,
    };
    return new ManagedProcess(p);
  }

  /** The topology's external system `name`, when the world runs its external systems. */
  private externalSystem(name: string): ExternalSystemSpec | undefined {
    return this.options.externals ? this.options.topology.externals?.find((x) => x.name === name) : undefined;
  }

  /** Where the mail provider keeps its PKI (its CA is what a DestinationRule's caCertificates names). */
  get mailProviderPkiDir(): string {
    return path.join(this.options.dataDir, 'external', 'mail-provider');
  }

  /** The mail provider's ports (http, tls, control) and CA file, when the world runs it. */
  get mailProviderInfo(): { http: number; tls: number; control: number; caFile: string } | undefined {
    const p = this.mailProvider;
    if (!p) return undefined;
    return { http: p.ports.http, tls: p.ports.tls, control: p.ports.control, caFile: path.join(this.mailProviderPkiDir, 'ca.pem') };
  }

  /** Registers the external systems in the mesh: the mail provider's ServiceEntry and its TLS origination. */
  async registerExternals(): Promise<void> {
    const info = this.mailProviderInfo;
    if (!info) return;
    const p = { host: this.externalSystem('mail-provider')!.host, tlsPort: info.tls, caFile: info.caFile, address: this.options.host };
    this.registrations = [{ name: 'mail-provider.yaml', text: `${mailProviderServiceEntry(p)}---
${mailProviderTls(p)}` }];
    await applyConfig(this.controlPlaneUrl, this.registrations);
    // Told to whoever attaches (a `--target running` lab's config reset keeps them).
    this.writeStateIfAny();
  }

  /** The world's own mesh config, once registerExternals() applied it (WorldState.registrations). */
  private registrations: { name: string; text: string }[] = [];

  private mustInstance(id: string): Instance {
    const inst = this.instances.get(id);
    if (!inst) throw new Error(`no instance "${id}"; instances: ${[...this.instances.keys()].join(', ')}`);
    return inst;
  }

  private progress(message: string): void {
    this.options.onProgress?.(message);
  }

  private writeStateIfAny(): void {
    if (this.options.stateFile) writeState(this.options.stateFile, this.state());
  }

  /** Every process with its pid and ports, as written to the state file. */
  state(): WorldState {
    const info = (p: ManagedProcess): ProcessInfo => ({
      name: p.spec.name,
      role: p.spec.role,
      pid: p.pid ?? 0,
      service: p.spec.service,
      version: p.spec.version,
      ports: p.ports,
    });
    const instances: InstanceInfo[] = [...this.instances.values()].map((i) => ({
      id: i.spec.id,
      service: i.spec.service.name,
      version: i.spec.version,
      app: info(i.app),
      sidecar: info(i.sidecar),
    }));
    const backend = (b: BackendProcess): ProcessInfo => ({ name: b.name, role: 'observability', pid: b.pid ?? 0, ports: { http: b.port } });
    const processes = [
      ...[this.controlPlane, ...(this.broker ? [this.broker] : []), ...(this.chaos ? [this.chaos] : []), ...(this.mailProvider ? [this.mailProvider] : []), this.gateway, ...[...this.instances.values()].flatMap((i) => [i.app, i.sidecar])].map(info),
      ...[this.zipkin, this.prometheus].filter((b): b is BackendProcess => !!b).map(backend),
    ];
    return {
      startedAt: this.startedAt.toISOString(),
      readyMs: Math.round(this.readyMs),
      host: this.options.host,
      dataDir: this.options.dataDir,
      logDir: this.options.logDir,
      bus: { kind: this.busKind, url: this.busUrl },
      controlPlaneUrl: this.controlPlaneUrl,
      gatewayUrl: this.gatewayUrl,
      chaosUrl: this.chaosUrl,
      ...(this.zipkin || this.prometheus ? { observability: { zipkinUrl: this.zipkinUrl, prometheusUrl: this.prometheusUrl } } : {}),
      instanceControlUrl: this.instanceControlUrl,
      processes,
      instances,
      ...(this.registrations.length ? { registrations: this.registrations } : {}),
    };
  }
}

/** A temporary data/log directory for a test world; removed by the caller. */
export function tempWorldDir(prefix = 'meshlab-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
