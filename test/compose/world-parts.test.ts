/**
 * The compose world holds what `npm start` holds beyond the three services (#17): the external mail provider
 * and its registration in the mesh, the brokers reached through the sidecars, and the zones of world/topology.ts.
 * Checked on the generator's output (no Docker engine here), the registration with `meshlab analyze`, and the
 * provider's container entry run as a process the way its container runs it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { analyzeCommand } from '../../cli/commands/analyze';
import { startControlPlane } from '../../mesh/control-plane/server';
import { composeDocument, generatedFiles, WORLD_CONFIG_MOUNT, worldConfigYaml } from '../../world/compose-generate';
import { brokerEdgesOf, COMPOSE_BROKERS, CONTAINER, edgesOf, MAIL_PROVIDER_CA_DIR, MAIL_PROVIDER_PORTS, podsOf, WORLD_CONFIG_FILE } from '../../world/compose-layout';
import { DEFAULT_TOPOLOGY, localityLabels } from '../../world/topology';
import { kubernetesExport, writeExport } from '../../world/kubernetes-export';
import { ROOT } from './helpers';

type Service = { command?: string[]; environment?: Record<string, string>; volumes?: string[]; labels?: Record<string, string>; depends_on?: Record<string, { condition: string }>; network_mode?: string };
const services = (composeDocument() as { services: Record<string, Service> }).services;
const registration = YAML.parseAllDocuments(worldConfigYaml()!).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> });
const proxies = [...podsOf().map((p) => p.sidecar), CONTAINER.gateway];

describe('compose world: the external mail provider', () => {
  it('runs the image\'s own mail-provider entry outside the mesh, on fixed ports, its PKI in its own volume and only its CA in the shared one', () => {
    const mail = services[CONTAINER.mailProvider];
    expect(mail.command).toEqual(['node', 'dist/world/external/mail-provider-main.js']);
    expect(mail.environment).toMatchObject({ MAIL_SERVER_NAME: 'api.mail.example', MAIL_PKI_DIR: '/data/pki', MAIL_CA_EXPORT_DIR: MAIL_PROVIDER_CA_DIR, MAIL_HTTP_PORT: '8025', MAIL_TLS_PORT: '8443', MAIL_CONTROL_PORT: '9901' });
    expect(mail.volumes).toEqual(['mail-provider-pki:/data', `mail-provider-ca:${MAIL_PROVIDER_CA_DIR}`]);
    // No sidecar in its namespace, no workload token: the mesh does not know it until the ServiceEntry.
    expect(Object.values(services).filter((s) => s.network_mode === `service:${CONTAINER.mailProvider}`)).toHaveLength(0);
    expect(Object.keys(mail.environment ?? {}).filter((k) => k.startsWith('MESH_') && k !== 'MESH_HOST')).toEqual([]);
  });

  it('notifications (its one caller) is told the provider by name; no other app is', () => {
    for (const pod of podsOf()) expect({ app: pod.app, host: services[pod.app].environment?.MAIL_PROVIDER_HOST }).toEqual({ app: pod.app, host: pod.spec.service.name === 'notifications' ? 'api.mail.example' : undefined });
  });

  it('the registration: a MESH_EXTERNAL ServiceEntry resolved by DNS to the provider container\'s TLS port, and a DestinationRule originating TLS with the CA at the path all 6 proxies mount', () => {
    expect(registration.map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['ServiceEntry/mail-provider', 'DestinationRule/mail-provider']);
    const se = registration[0].spec as { hosts: string[]; location: string; resolution: string; ports: { number: number; targetPort: number; protocol: string }[]; endpoints: { address: string }[] };
    expect(se).toMatchObject({ hosts: ['api.mail.example'], location: 'MESH_EXTERNAL', resolution: 'DNS', endpoints: [{ address: CONTAINER.mailProvider }] });
    expect(se.ports).toEqual([{ number: 80, name: 'http', protocol: 'HTTP', targetPort: MAIL_PROVIDER_PORTS.tls }]);
    const tls = (registration[1].spec as { trafficPolicy: { tls: { mode: string; caCertificates: string; subjectAltNames: string[] } } }).trafficPolicy.tls;
    expect(tls).toEqual({ mode: 'SIMPLE', caCertificates: `${MAIL_PROVIDER_CA_DIR}/ca.pem`, subjectAltNames: ['api.mail.example'] });
    expect(proxies).toHaveLength(6);
    for (const name of proxies) {
      // Every proxy compiles the DestinationRule, so every one must read the file: mounted read-only, after the provider wrote it.
      expect({ name, mounts: services[name].volumes?.filter((v) => v.startsWith('mail-provider-ca:')) }).toEqual({ name, mounts: [`mail-provider-ca:${path.dirname(tls.caCertificates)}:ro`] });
      expect({ name, dep: services[name].depends_on?.[CONTAINER.mailProvider] }).toEqual({ name, dep: { condition: 'service_healthy' } });
    }
  });

  it('the control plane loads the registration with config/default on its first start, and the file is the generated one', () => {
    expect(services[CONTAINER.controlPlane].volumes).toContain(`./${WORLD_CONFIG_FILE}:${WORLD_CONFIG_MOUNT}:ro`);
    expect(path.posix.dirname(WORLD_CONFIG_MOUNT)).toBe('/app/config/default'); // the image's config/default (Dockerfile: COPY config config)
    expect(generatedFiles()[WORLD_CONFIG_FILE]).toBe(worldConfigYaml());
    expect(fs.readFileSync(path.join(ROOT, WORLD_CONFIG_FILE), 'utf8')).toBe(worldConfigYaml());
  });

  it('a control plane whose config/default holds the mounted file (as in the container) serves the provider\'s 2 resources beside config/default\'s 5 from its first start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-cp-config-'));
    const configDir = path.join(dir, 'config', 'default');
    fs.cpSync(path.join(ROOT, 'config/default'), configDir, { recursive: true });
    fs.copyFileSync(path.join(ROOT, WORLD_CONFIG_FILE), path.join(configDir, path.posix.basename(WORLD_CONFIG_MOUNT)));
    const cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'cp'), configDir, services: DEFAULT_TOPOLOGY.services.map((s) => s.name) });
    try {
      const { resources } = (await (await fetch(`http://127.0.0.1:${cp.port}/v1/config`)).json()) as { resources: { kind: string; metadata: { name: string } }[] };
      expect(resources.map((r) => `${r.kind}/${r.metadata.name}`).sort()).toEqual(['AuthorizationPolicy/payments', 'DestinationRule/mail-provider', 'DestinationRule/payments', 'Gateway/meshlab-gateway', 'RequestAuthentication/meshlab-issuer', 'ServiceEntry/mail-provider', 'VirtualService/meshlab-ingress']);
    } finally {
      await cp.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config/default plus the registration passes `meshlab analyze` (0 messages) beside the world\'s Services, and analyze does flag a broken registration', async () => {
    // The services as Kubernetes Services (the export's, from the same topology): with a ServiceEntry in the set,
    // analyze checks every DestinationRule host against the registry, as istioctl does.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-world-config-'));
    writeExport(dir, kubernetesExport().files.filter((f) => !f.path.startsWith('istio-')));
    const run = async (files: string[]): Promise<{ code: number; messages: { code: string; message: string; origin: string }[] }> => {
      let out = '';
      const code = await analyzeCommand(['-o', 'json', ...files.flatMap((f) => ['-f', f])], { out: (t) => (out += t), err: () => undefined });
      return { code, messages: JSON.parse(out) as { code: string; message: string; origin: string }[] };
    };
    try {
      const clean = await run([dir, path.join(ROOT, 'config/default'), path.join(ROOT, WORLD_CONFIG_FILE)]);
      expect(clean).toEqual({ code: 0, messages: [] });
      // The check can fail: the registration without its ServiceEntry leaves a TLS-originating rule for a host no entry declares.
      const broken = path.join(os.tmpdir(), `meshlab-broken-${process.pid}.yaml`);
      fs.writeFileSync(broken, worldConfigYaml()!.split('---\n')[1]);
      const out = await run([dir, path.join(ROOT, 'config/default'), broken]).finally(() => fs.rmSync(broken, { force: true }));
      expect(out.messages.map((m) => `${m.code} ${m.origin}`)).toEqual(['IST0174 DestinationRule default/mail-provider']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the container\'s entry, run as the container runs it: fixed ports, a CA exported without the key, and a TLS handshake for api.mail.example verified by that CA', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-mail-provider-'));
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const env = { ...services[CONTAINER.mailProvider].environment, MESH_HOST: '127.0.0.1', MAIL_PKI_DIR: path.join(dir, 'pki'), MAIL_CA_EXPORT_DIR: path.join(dir, 'ca'), MAIL_HTTP_PORT: String(ports[0]), MAIL_TLS_PORT: String(ports[1]), MAIL_CONTROL_PORT: String(ports[2]) };
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/world/external/mail-provider-main.js')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => out.includes(' ready ') && resolve());
        child.once('exit', (code) => reject(new Error(`mail-provider exited ${code}: ${out}`)));
      });
      expect(out).toContain(`http=${ports[0]} tls=${ports[1]} control=${ports[2]}`);
      expect(fs.readdirSync(path.join(dir, 'ca'))).toEqual(['ca.pem']);
      const ca = fs.readFileSync(path.join(dir, 'ca', 'ca.pem'), 'utf8');
      expect(ca).toBe(fs.readFileSync(path.join(dir, 'pki', 'ca.pem'), 'utf8'));
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: ports[1], servername: 'api.mail.example', ca, path: '/v1/messages', method: 'POST', headers: { host: 'api.mail.example' }, checkServerIdentity: (_h, cert) => (cert.subjectaltname?.includes('DNS:api.mail.example') ? undefined : new Error('SAN')) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect(status).toBe(202);
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose world: the brokers through the sidecars', () => {
  const busPods = podsOf().filter((p) => p.spec.service.bus);

  it('orders and notifications (the bus users) each get one sidecar TCP listener per broker, on fixed pod ports; the other pods none', () => {
    expect(busPods.map((p) => p.app)).toEqual(['orders-v1-0', 'notifications-v1-0']);
    for (const pod of podsOf()) {
      const captures = services[pod.sidecar].environment?.MESH_TCP_CAPTURE;
      if (!pod.spec.service.bus) {
        expect({ pod: pod.app, captures, redirect: services[pod.app].environment?.MESH_TCP_REDIRECT }).toEqual({ pod: pod.app, captures: undefined, redirect: undefined });
        continue;
      }
      expect(JSON.parse(captures!)).toEqual([{ service: 'kafka', port: 9092, listenPort: 19092 }, { service: 'rabbitmq', port: 5672, listenPort: 19672 }]);
    }
  });

  it("each bus app's capture table sends its broker's name — and the address Kafka advertises — to its own sidecar's listener", () => {
    const advertised = /PLAINTEXT:\/\/([^,]+)/.exec(services.kafka.environment!.KAFKA_ADVERTISED_LISTENERS)![1];
    for (const pod of busPods) {
      const env = services[pod.app].environment!;
      const table = JSON.parse(env.MESH_TCP_REDIRECT) as Record<string, string>;
      const listeners = (JSON.parse(services[pod.sidecar].environment!.MESH_TCP_CAPTURE) as { service: string; listenPort: number }[]);
      const listenerOf = (service: string) => `127.0.0.1:${listeners.find((l) => l.service === service)!.listenPort}`;
      // The default bus URL, the address Kafka's metadata hands out, and the README's RabbitMQ URL all cross the sidecar.
      expect(table[/\$\{MESHLAB_BUS_URL:-(.+)\}/.exec(env.BUS_URL)![1]]).toBe(listenerOf('kafka'));
      expect(table[advertised]).toBe(listenerOf('kafka'));
      expect(table['rabbitmq:5672']).toBe(listenerOf('rabbitmq'));
    }
  });

  it('4 broker edges in Toxiproxy after the 8 HTTP ones: one per (bus service, broker), to the broker itself', () => {
    expect(brokerEdgesOf().map((e) => `${e.name}@${e.listenPort}->${e.upstream}`)).toEqual([
      'orders->kafka-0@21008->kafka:9092',
      'notifications->kafka-0@21009->kafka:9092',
      'orders->rabbitmq-0@21010->rabbitmq:5672',
      'notifications->rabbitmq-0@21011->rabbitmq:5672',
    ]);
    expect(new Set([...edgesOf(), ...brokerEdgesOf()].map((e) => e.listenPort)).size).toBe(12);
    expect(COMPOSE_BROKERS.map((b) => `${b.instance}=${b.target.host}:${b.target.port}`)).toEqual(['kafka-0=kafka:9092', 'rabbitmq-0=rabbitmq:5672']);
  });
});

describe('compose world: the zones of world/topology.ts', () => {
  it('every pod carries its locality as topology labels on both containers and in the labels its sidecar announces: 3 in zone-a, 2 in zone-b', () => {
    const zones: Record<string, string> = {};
    for (const pod of podsOf()) {
      const want = localityLabels(pod.spec.locality);
      expect(services[pod.app].labels).toMatchObject(want);
      expect(services[pod.sidecar].labels).toMatchObject(want);
      expect(JSON.parse(services[pod.sidecar].environment!.MESH_LABELS)).toMatchObject(want);
      zones[pod.app] = want['topology.kubernetes.io/zone'];
    }
    expect(zones).toEqual({ 'orders-v1-0': 'zone-a', 'payments-v1-0': 'zone-a', 'payments-v1-1': 'zone-b', 'payments-v2-0': 'zone-b', 'notifications-v1-0': 'zone-a' });
    expect(DEFAULT_TOPOLOGY.locality).toBe('region-1/zone-a');
  });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
