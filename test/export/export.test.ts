/**
 * What `meshlab export kubernetes` writes, measured against the topology, compose and meshlab's own
 * identities and config: the objects a cluster with Istio needs, byte-stable, and the live config
 * of a real control plane merged in.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { exportCommand } from '../../cli/commands/export';
import { loadPath } from '../../mesh/config/load';
import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';
import { spiffeId } from '../../mesh/security/identity';
import { contextFromEnv } from '../../services/shared/context';
import { createRuntime } from '../../services/shared/runtime';
import { composeDocument, IMAGES } from '../../world/compose-generate';
import { POD_PORTS } from '../../world/compose-layout';
import { DEFAULT_CONFIG_DIR, EXPORT_MARKER, kubernetesExport, PROXY_CONFIG, writeExport } from '../../world/kubernetes-export';
import { DEFAULT_TOPOLOGY, withInstances } from '../../world/topology';
import { objectsOf, ref, ROOT, type K8sObject } from './helpers';
import { which } from '../compose/helpers';

/** kubectl's built-in kustomize builds a kustomization offline (no cluster); a loud skip where kubectl is absent. */
const itWithKubectl: jest.It = which('kubectl') ? it : (console.warn('\n!!! kubectl not found: the `kubectl kustomize` test is SKIPPED\n'), it.skip);

const exported = kubernetesExport(DEFAULT_TOPOLOGY, { namespace: 'shop' });
const objects = objectsOf(exported.files);
const byKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const deployments = () => byKind('Deployment').filter((d) => DEFAULT_TOPOLOGY.services.some((s) => s.name === d.metadata.labels?.app));
type Env = { name: string; value?: string; valueFrom?: unknown };

function capture(): { out: string[]; err: string[]; io: { out: (t: string) => void; err: (t: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t) => out.push(t), err: (t) => err.push(t) } };
}

describe('meshlab export kubernetes: the objects', () => {
  it('the Namespace is labelled istio-injection: enabled and every namespaced object is in it', () => {
    expect(byKind('Namespace')).toEqual([expect.objectContaining({ metadata: { name: 'shop', labels: { 'istio-injection': 'enabled' } } })]);
    const generated = objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'Kustomization' && !o.file.startsWith('istio-default-'));
    expect(generated.length).toBe(20);
    for (const o of generated) expect(`${ref(o)} ${o.metadata.namespace}`).toBe(`${ref(o)} shop`);
    expect(byKind('Kustomization').find((k) => k.file === 'kustomization.yaml')).toMatchObject({ namespace: 'shop' });
  });

  it("each service has a ServiceAccount whose SPIFFE id is meshlab's, and its Deployments run as it", () => {
    for (const s of DEFAULT_TOPOLOGY.services) {
      expect(byKind('ServiceAccount').map((a) => a.metadata.name)).toContain(s.name);
      for (const d of deployments().filter((x) => x.metadata.labels?.app === s.name)) {
        const sa = d.spec.template.spec.serviceAccountName as string;
        // Istio's identity: spiffe://<trust domain>/ns/<pod namespace>/sa/<service account>.
        expect(`spiffe://cluster.local/ns/${d.metadata.namespace}/sa/${sa}`).toBe(spiffeId(s.name, 'shop'));
      }
    }
    expect(byKind('ServiceAccount').map((a) => a.metadata.name)).toEqual(['orders', 'payments', 'notifications', 'istio-ingressgateway']);
  });

  it('each Service has one named http- port with appProtocol http, on the port the app listens on', () => {
    for (const s of DEFAULT_TOPOLOGY.services) {
      const svc = byKind('Service').find((x) => x.metadata.name === s.name)!;
      expect(svc.spec).toEqual({ selector: { app: s.name }, ports: [{ name: 'http-api', port: POD_PORTS.app, targetPort: 'http-api', protocol: 'TCP', appProtocol: 'http' }] });
    }
    for (const svc of byKind('Service')) for (const p of svc.spec.ports as { name: string; appProtocol: string }[]) expect(`${p.name} ${p.appProtocol}`).toMatch(/^(http-?\S* http|https https|tcp-\S+ tcp)$/);
  });

  it('one Deployment per version (payments-v1 ×2, payments-v2 ×1), labelled app/version as the DestinationRule subsets select', () => {
    expect(deployments().map((d) => `${d.metadata.name}×${d.spec.replicas}`)).toEqual(['orders-v1×1', 'payments-v1×2', 'payments-v2×1', 'notifications-v1×1']);
    const dr = loadPath(DEFAULT_CONFIG_DIR).resources.find((r) => r.kind === 'DestinationRule')!;
    const subsets = (dr.spec as { subsets: { name: string; labels: Record<string, string> }[] }).subsets;
    for (const subset of subsets) {
      const selected = deployments().filter((d) => d.metadata.labels?.app === 'payments' && Object.entries(subset.labels).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      expect(`${subset.name}: ${selected.map((d) => d.metadata.name).join(',')}`).toBe(`${subset.name}: payments-${subset.name}`);
    }
    for (const d of deployments()) expect(d.spec.selector.matchLabels).toEqual({ app: d.metadata.labels!.app, version: d.metadata.labels!.version });
  });

  it('apps probe /healthz on the app port, expose the lab-control port and request resources', () => {
    for (const d of deployments()) {
      const [c] = d.spec.template.spec.containers;
      expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-api' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-api' });
      expect(c.ports).toEqual([{ name: 'http-api', containerPort: POD_PORTS.app, protocol: 'TCP' }, { name: 'lab-control', containerPort: POD_PORTS.lab, protocol: 'TCP' }]);
      expect(Object.keys(c.resources.requests)).toEqual(['cpu', 'memory']);
      // The Envoy stats the labs read (scenarios/README.md), as the ProxyConfig YAML Istio parses.
      expect(YAML.parse(d.spec.template.metadata.annotations['proxy.istio.io/config'])).toEqual({ holdApplicationUntilProxyStarts: true, proxyStatsMatcher: { inclusionRegexps: ['.*outlier_detection.*', '.*upstream_rq_pending_overflow.*', '.*upstream_rq_retry.*', '.*no_filter_chain_match.*'] } });
    }
  });

  it('the probed path exists: a service runtime answers GET /healthz with 200', async () => {
    const rt = createRuntime({ name: 'payments', version: 'v1', instance: 'payments-v1-0', host: '127.0.0.1', port: 0, labPort: 0, dataDir: os.tmpdir(), outboundUrl: 'http://127.0.0.1:1', bus: { kind: 'memory', url: '' } });
    try {
      const url = await rt.app.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', service: 'payments' });
    } finally {
      await rt.app.close();
    }
  });

  it("the apps' env is compose's with the cluster's differences, and the service context reads it", () => {
    const compose = (composeDocument() as { services: Record<string, { environment: Record<string, string> }> }).services;
    for (const d of deployments()) {
      const env = d.spec.template.spec.containers[0].env as Env[];
      const id = `${d.metadata.name}-0`;
      // Every variable compose gives this service's app is set here too.
      expect(env.map((e) => e.name).sort()).toEqual(Object.keys(compose[id].environment).filter((k) => (k !== 'MESH_OUTBOUND_URL' || d.metadata.labels!.app === 'orders') && k !== 'MESH_TCP_REDIRECT').sort());
      // Envoy's iptables capture the broker connections on a cluster: no capture table (compose's MESH_TCP_REDIRECT).
      expect(env.find((e) => e.name === 'MESH_TCP_REDIRECT')).toBeUndefined();
      expect(env.find((e) => e.name === 'INSTANCE_ID')).toEqual({ name: 'INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
      const saved = { ...process.env };
      try {
        for (const e of env) process.env[e.name] = e.value ?? 'payments-v1-5d9c-abcde';
        const ctx = contextFromEnv();
        expect(ctx).toMatchObject({ name: d.metadata.labels!.app, version: d.metadata.labels!.version, host: '0.0.0.0', port: POD_PORTS.app, labPort: POD_PORTS.lab, dataDir: '/data', bus: { kind: 'kafka', url: 'kafka:9092' } });
        if (d.metadata.labels!.app === 'orders') expect(ctx.outboundUrl).toBe('http://payments:8000');
      } finally {
        process.env = saved;
      }
    }
  });

  it('Kafka is a single-node KRaft StatefulSet with the image compose pins, RabbitMQ too; both outside the mesh', () => {
    const [kafka] = byKind('StatefulSet');
    const c = kafka.spec.template.spec.containers[0];
    expect(c.image).toBe(IMAGES.kafka);
    const env = Object.fromEntries((c.env as Env[]).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller', KAFKA_NODE_ID: '1', KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093', KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://kafka-0.kafka:9092' });
    expect(kafka.spec).toMatchObject({ replicas: 1, serviceName: 'kafka' });
    expect(byKind('Service').find((s) => s.metadata.name === 'kafka')!.spec.clusterIP).toBe('None');
    const rabbit = byKind('Deployment').find((d) => d.metadata.name === 'rabbitmq')!;
    expect(rabbit.spec.template.spec.containers[0].image).toBe(IMAGES.rabbitmq);
    for (const w of [kafka, rabbit]) expect(w.spec.template.metadata.labels['sidecar.istio.io/inject']).toBe('false');
  });

  it('the ingress gateway routes the topology\'s prefixes and runs as the principal config/default allows', () => {
    const vs = byKind('VirtualService').find((v) => v.metadata.name === 'meshlab-ingress')!;
    expect(vs.spec.http.map((h: { match: { uri: { prefix: string } }[]; route: { destination: { host: string } }[] }) => `${h.match[0].uri.prefix}→${h.route[0].destination.host}`)).toEqual(DEFAULT_TOPOLOGY.gateway.routes.map((r) => `${r.prefix}→${r.service}`));
    const gw = byKind('Deployment').find((d) => d.metadata.name === 'istio-ingressgateway')!;
    expect(gw.spec.template.metadata.annotations).toEqual({ 'inject.istio.io/templates': 'gateway', 'proxy.istio.io/config': PROXY_CONFIG });
    const authz = fs.readFileSync(path.join(DEFAULT_CONFIG_DIR, 'payments-authz.yaml'), 'utf8');
    // In the default namespace the gateway's identity is exactly the principal config/default allows.
    expect(authz).toContain(spiffeId(gw.spec.template.spec.serviceAccountName, 'default').slice('spiffe://'.length));
  });

  it('config/default is copied byte for byte, and a non-default namespace says its principals deny', () => {
    for (const f of fs.readdirSync(DEFAULT_CONFIG_DIR)) {
      expect(exported.files.find((x) => x.path === `istio-default-${f}`)?.text).toBe(fs.readFileSync(path.join(DEFAULT_CONFIG_DIR, f), 'utf8'));
    }
    expect(exported.notes.join('\n')).toMatch(/principals in ns\/default .* will deny callers from "shop"/);
    expect(kubernetesExport().notes.join('\n')).not.toMatch(/principals/);
  });

  it('kustomization.yaml lists every other file once, in the order written, and the output is byte-stable', () => {
    const k = exported.files[exported.files.length - 1];
    expect(k.path).toBe('kustomization.yaml');
    // This folder's files, then the egress folder (its own kustomization.yaml lists external.yaml).
    expect((YAML.parse(k.text) as { resources: string[] }).resources).toEqual([...exported.files.slice(0, -1).filter((f) => !f.path.includes('/')).map((f) => f.path), 'egress']);
    const sub = exported.files.find((f) => f.path === 'egress/kustomization.yaml')!;
    expect((YAML.parse(sub.text) as { resources: string[] }).resources).toEqual(['external.yaml']);
    expect(kubernetesExport(DEFAULT_TOPOLOGY, { namespace: 'shop' })).toEqual(exported);
    // Derived from the topology: a third payments v2 instance is replicas 3, nothing else moves.
    const scaled = kubernetesExport(withInstances(DEFAULT_TOPOLOGY, 'payments', { v1: 2, v2: 3 }), { namespace: 'shop' });
    const changed = scaled.files.filter((f, i) => f.text !== exported.files[i].text).map((f) => f.path);
    expect(changed).toEqual(['payments.yaml']);
  });

  itWithKubectl('`kubectl kustomize DIR` builds the export: 26 objects, every namespaced one (Istio config included) in the -n namespace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-kustomize-'));
    try {
      writeExport(dir, exported.files);
      const built = YAML.parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30000 })).map((d) => d.toJS() as K8sObject);
      expect(built.length).toBe(26);
      expect(built.filter((o) => o.kind !== 'Namespace').map((o) => `${ref(o)} ${o.metadata.namespace}`).filter((x) => !x.endsWith(' shop'))).toEqual([]);
      expect(built.find((o) => o.kind === 'AuthorizationPolicy')!.metadata.namespace).toBe('shop');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('live resources in another namespace get their own file name and a note that kustomize moves them', () => {
    const pa = { kind: 'PeerAuthentication' as const, apiVersion: 'security.istio.io/v1', spec: { mtls: { mode: 'STRICT' } } };
    const live = [...loadPath(DEFAULT_CONFIG_DIR).resources, { ...pa, metadata: { name: 'default', namespace: 'default' } }, { ...pa, metadata: { name: 'default', namespace: 'istio-system' } }];
    const out = kubernetesExport(DEFAULT_TOPOLOGY, { live });
    expect(out.files.map((f) => f.path).filter((p) => p.startsWith('istio-live-'))).toEqual(['istio-live-peerauthentication-default.yaml', 'istio-live-peerauthentication-istio-system-default.yaml']);
    expect(YAML.parse(out.files.find((f) => f.path === 'istio-live-peerauthentication-istio-system-default.yaml')!.text).metadata).toEqual({ name: 'default', namespace: 'istio-system' });
    expect(out.notes.filter((n) => n.includes('istio-system/default'))).toEqual([expect.stringMatching(/moves it into the export's namespace/)]);
  });

  it('the mail provider: a MESH_EXTERNAL ServiceEntry resolved by DNS, and a DestinationRule for notifications whose CA is Secret mail-provider-ca (credentialName), no file path', () => {
    const se = objects.find((o) => o.kind === 'ServiceEntry')!;
    expect(se.file).toBe('egress/external.yaml');
    expect(se.spec).toEqual({ hosts: ['api.mail.example'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 443 }] });
    const dr = objects.find((o) => o.kind === 'DestinationRule' && o.metadata.name === 'mail-provider')!;
    expect(dr.spec).toEqual({
      host: 'api.mail.example',
      // Istio reads credentialName at a sidecar only when the rule has a workloadSelector: the callers of the topology.
      workloadSelector: { matchLabels: { app: 'notifications' } },
      trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', credentialName: 'mail-provider-ca', sni: 'api.mail.example', subjectAltNames: ['api.mail.example'] } }] },
    });
    expect(JSON.stringify(dr.spec)).not.toMatch(/caCertificates|\.pem/);
    // The caller knows the provider by the same name the ServiceEntry declares.
    const env = deployments().find((d) => d.metadata.labels?.app === 'notifications')!.spec.template.spec.containers[0].env as Env[];
    expect(env.find((e) => e.name === 'MAIL_PROVIDER_HOST')?.value).toBe('api.mail.example');
    expect(exported.notes).toEqual(expect.arrayContaining([expect.stringMatching(/create secret generic mail-provider-ca --from-file=cacert=/)]));
  });

  it("the brokers' Services are the cluster form of meshlab's broker announcement: TCP ports (tcp- names, appProtocol tcp), pods without a sidecar", () => {
    for (const [name, port] of [['kafka', 9092], ['rabbitmq', 5672]] as const) {
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === name)!;
      expect((svc.spec.ports as { name: string; port: number; appProtocol: string }[]).find((p) => p.port === port)).toMatchObject({ name: expect.stringMatching(/^tcp-/), appProtocol: 'tcp' });
      const workload = objects.find((o) => (o.kind === 'StatefulSet' || o.kind === 'Deployment') && o.metadata.name === name)!;
      expect(workload.spec.template.metadata.labels).toMatchObject({ app: name, 'sidecar.istio.io/inject': 'false' });
    }
  });

  it("a running world's own registration of the provider (127.0.0.1, a local CA file) is not exported as live config: egress/ has its cluster form", () => {
    const live = [
      { kind: 'ServiceEntry' as const, apiVersion: 'networking.istio.io/v1', metadata: { name: 'mail-provider', namespace: 'default' }, spec: { hosts: ['api.mail.example'], location: 'MESH_EXTERNAL', resolution: 'STATIC', endpoints: [{ address: '127.0.0.1' }] } },
      { kind: 'DestinationRule' as const, apiVersion: 'networking.istio.io/v1', metadata: { name: 'mail-provider', namespace: 'default' }, spec: { host: 'api.mail.example', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/home/u/.meshlab/data/external/mail-provider/ca.pem' } } } },
      { kind: 'VirtualService' as const, apiVersion: 'networking.istio.io/v1', metadata: { name: 'payments', namespace: 'default' }, spec: { hosts: ['payments'] } },
    ];
    const out = kubernetesExport(DEFAULT_TOPOLOGY, { live: [...loadPath(DEFAULT_CONFIG_DIR).resources, ...live] });
    expect(out.files.map((f) => f.path).filter((p) => p.startsWith('istio-live-'))).toEqual(['istio-live-virtualservice-payments.yaml']);
    expect(out.files.some((f) => f.text.includes('.meshlab/data'))).toBe(false);
    expect(out.notes.filter((n) => n.startsWith('left out the live'))).toHaveLength(2);
  });

  it('the export is pinned: its files and objects in this order', () => {
    expect(objectsOf(kubernetesExport().files).map((o) => `${o.file} ${o.kind}${o.metadata ? `/${o.metadata.name}` : ''}`)).toEqual([
      'namespace.yaml Namespace/default',
      'data.yaml PersistentVolumeClaim/meshlab-data',
      'kafka.yaml Service/kafka',
      'kafka.yaml StatefulSet/kafka',
      'rabbitmq.yaml Service/rabbitmq',
      'rabbitmq.yaml Deployment/rabbitmq',
      'orders.yaml ServiceAccount/orders',
      'orders.yaml Service/orders',
      'orders.yaml Deployment/orders-v1',
      'payments.yaml ServiceAccount/payments',
      'payments.yaml Service/payments',
      'payments.yaml Deployment/payments-v1',
      'payments.yaml Deployment/payments-v2',
      'notifications.yaml ServiceAccount/notifications',
      'notifications.yaml Service/notifications',
      'notifications.yaml Deployment/notifications-v1',
      'ingress-gateway.yaml ServiceAccount/istio-ingressgateway',
      'ingress-gateway.yaml Service/istio-ingressgateway',
      'ingress-gateway.yaml Deployment/istio-ingressgateway',
      'istio-default-gateway.yaml Gateway/meshlab-gateway',
      'istio-default-gateway.yaml VirtualService/meshlab-ingress',
      'istio-default-payments-authz.yaml AuthorizationPolicy/payments',
      'istio-default-payments.yaml DestinationRule/payments',
      'istio-default-request-authentication.yaml RequestAuthentication/meshlab-issuer',
      'egress/external.yaml ServiceEntry/mail-provider',
      'egress/external.yaml DestinationRule/mail-provider',
      'egress/kustomization.yaml Kustomization',
      'kustomization.yaml Kustomization',
    ]);
  });

  it("without -n the topology's namespace is the export's", () => {
    const out = kubernetesExport({ ...DEFAULT_TOPOLOGY, namespace: 'lab' });
    expect(objectsOf(out.files).find((o) => o.kind === 'Namespace')!.metadata.name).toBe('lab');
    expect(objectsOf(out.files).find((o) => o.file === 'kustomization.yaml')).toMatchObject({ namespace: 'lab' });
  });

  it('a bad namespace is refused naming the rule', () => {
    expect(() => kubernetesExport(DEFAULT_TOPOLOGY, { namespace: 'Shop_1' })).toThrow(/"Shop_1" is not a DNS-1123 label/);
  });
});

describe('meshlab export kubernetes: the command, with a real control plane', () => {
  let dir: string;
  let cp: ControlPlane;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-export-'));
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'cp'), services: DEFAULT_TOPOLOGY.services.map((s) => s.name) });
  });
  afterEach(async () => {
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the live VirtualService beside config/default, unchanged default files included', async () => {
    const vs = fs.readFileSync(path.join(ROOT, 'config', 'samples', 'virtual-service-payments-90-10.yaml'), 'utf8');
    const applied = await fetch(`${cp.url}/v1/config/apply`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ files: [{ name: 'vs.yaml', text: vs }] }) });
    expect(applied.status).toBe(200);
    const out = path.join(dir, 'k8s');
    const { io, out: stdout } = capture();
    expect(await exportCommand(['kubernetes', '-o', out, '--cp', cp.url], io)).toBe(0);
    expect(stdout.join('')).toMatch(/with 6 live Istio resource\(s\)/);
    const files = fs.readdirSync(out).sort();
    expect(files).toContain('istio-live-virtualservice-payments.yaml');
    expect(files.filter((f) => f.startsWith('istio-'))).toEqual(['istio-default-gateway.yaml', 'istio-default-payments-authz.yaml', 'istio-default-payments.yaml', 'istio-default-request-authentication.yaml', 'istio-live-virtualservice-payments.yaml']);
    const live = YAML.parse(fs.readFileSync(path.join(out, 'istio-live-virtualservice-payments.yaml'), 'utf8')) as K8sObject;
    const sample = loadPath(path.join(ROOT, 'config', 'samples', 'virtual-service-payments-90-10.yaml')).resources[0];
    expect(live).toEqual({ apiVersion: sample.apiVersion, kind: 'VirtualService', metadata: { name: 'payments' }, spec: sample.spec });
  });

  it('a default resource deleted live is left out with a note, and a re-export replaces the earlier one', async () => {
    const out = path.join(dir, 'k8s');
    expect(await exportCommand(['kubernetes', '-o', out, '--cp', cp.url], capture().io)).toBe(0);
    expect(fs.existsSync(path.join(out, 'istio-default-payments-authz.yaml'))).toBe(true);
    const del = await fetch(`${cp.url}/v1/config/delete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refs: [{ kind: 'AuthorizationPolicy', name: 'payments' }] }) });
    expect(del.status).toBe(200);
    const { io, err } = capture();
    expect(await exportCommand(['kubernetes', '-o', out, '--cp', cp.url], io)).toBe(0);
    expect(err.join('')).toMatch(/left out config\/default\/payments-authz.yaml: the control plane's AuthorizationPolicy payments differs/);
    expect(fs.existsSync(path.join(out, 'istio-default-payments-authz.yaml'))).toBe(false);
    expect(fs.readFileSync(path.join(out, 'kustomization.yaml'), 'utf8')).not.toContain('payments-authz');
    expect(fs.existsSync(path.join(out, 'ingress'))).toBe(false);
  });

  it('an unreachable --cp is an error and writes nothing; a foreign directory is refused', async () => {
    const closed = cp.url;
    await cp.close();
    const out = path.join(dir, 'k8s');
    await expect(exportCommand(['kubernetes', '-o', out, '--cp', closed], capture().io)).rejects.toThrow(/cannot read the live config from the control plane at http:\/\/127\.0\.0\.1:\d+/);
    expect(fs.existsSync(out)).toBe(false);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'notes.yaml'), 'mine: true\n');
    expect(() => writeExport(out, exported.files)).toThrow(/not empty and not an earlier meshlab export/);
    expect(fs.readFileSync(path.join(out, 'notes.yaml'), 'utf8')).toBe('mine: true\n');
    cp = await startControlPlane({ host: '127.0.0.1', port: 0 }); // afterEach closes it
  });

  it('usage errors exit 2 naming what was wrong', async () => {
    const a = capture();
    expect(await exportCommand(['compose'], a.io)).toBe(2);
    expect(a.err.join('')).toMatch(/cannot export "compose": the one target is `kubernetes`/);
    const b = capture();
    expect(await exportCommand(['kubernetes', '--namespcae', 'x'], b.io)).toBe(2);
    expect(b.err.join('')).toMatch(/unknown option --namespcae/);
  });

  it('every generated file carries the export marker; copied config does not change', () => {
    for (const f of exported.files) expect(`${f.path} ${f.text.includes(EXPORT_MARKER)}`).toBe(`${f.path} ${!f.path.startsWith('istio-default-')}`);
  });
});
