import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { json } from '../support/http';
import { paymentsSplit } from '../../scenarios/runner/fixtures';

const VS = paymentsSplit;

/** Config push through the real control plane to real sidecar processes. */
describe('control plane push', () => {
  const dir = tempWorldDir();
  let world: World;

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs` });
  });
  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const status = async (): Promise<{ node: string; ackedVersion: number; currentVersion: number; synced: boolean }[]> => (await json(`${world.controlPlaneUrl}/v1/proxy-status`)).body;

  test('an applied change is ACKed by every sidecar and the gateway within 1 s', async () => {
    const t0 = performance.now();
    const out = await world.applyConfig([{ name: 'vs.yaml', text: VS(80, 20) }]);
    const elapsed = performance.now() - t0;
    expect(out.results).toEqual([{ kind: 'VirtualService', name: 'payments', namespace: 'default', action: expect.stringMatching(/created|configured/) }]);
    const nodes = await status();
    expect(nodes).toHaveLength(6);
    for (const n of nodes) expect(n).toMatchObject({ synced: true, ackedVersion: n.currentVersion });
    expect(elapsed).toBeLessThan(1000);
  });

  test('invalid config is rejected whole with file:line:col messages, and nothing changes', async () => {
    const before = (await json(`${world.controlPlaneUrl}/v1/config`)).body;
    const bad = `${VS(50, 50)}---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: orders\nspec:\n  host: orders\n  trafficPolicy:\n    outlierDetection:\n      interval: 10 seconds\n`;
    const res = await json(`${world.controlPlaneUrl}/v1/config/apply`, { body: { files: [{ name: 'bad.yaml', text: bad }] } });
    expect(res.status).toBe(422);
    expect(res.body.ok).toBe(false);
    expect(res.body.messages).toContainEqual(expect.objectContaining({ level: 'Error', file: 'bad.yaml', line: 22, column: 7, path: 'spec.trafficPolicy.outlierDetection.interval' }));
    expect((await json(`${world.controlPlaneUrl}/v1/config`)).body).toEqual(before);
  });

  test('20 consecutive changes under steady load fail no request', async () => {
    let stop = false;
    const failures: number[] = [];
    let ok = 0;
    let waiters: (() => void)[] = [];
    const client = async (): Promise<void> => {
      while (!stop) {
        const res = await fetch(`${world.gatewayUrl}/api/payments/validate?amount=1`);
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else failures.push(res.status);
        for (const w of waiters) w();
        waiters = [];
      }
    };
    /** Resolves after `n` more requests completed, so every change lands among requests in flight. */
    const completed = async (n: number): Promise<void> => {
      const target = ok + failures.length + n;
      while (ok + failures.length < target) await new Promise<void>((r) => waiters.push(r));
    };
    const clients = Array.from({ length: 4 }, client);
    for (let i = 0; i < 20; i++) {
      await completed(4);
      await world.applyConfig([{ name: 'vs.yaml', text: VS(100 - i * 5, i * 5) }]);
    }
    await completed(4);
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(84);
  });

  test('sidecars keep serving while the control plane is down, and resync when it returns with the same config', async () => {
    const version = (await json(`${world.controlPlaneUrl}/v1/config`)).body.version;
    await world.stopControlPlane(true);
    const results = await Promise.all(Array.from({ length: 30 }, () => json(`${world.gatewayUrl}/api/payments/validate?amount=1`)));
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
    await world.startControlPlane();
    const nodes = await status();
    expect(nodes).toHaveLength(6);
    for (const n of nodes) expect(n.synced).toBe(true);
    const config = (await json(`${world.controlPlaneUrl}/v1/config`)).body;
    expect(config.resources.map((r: { kind: string; metadata: { name: string } }) => `${r.kind}/${r.metadata.name}`).sort()).toEqual(['AuthorizationPolicy/payments', 'DestinationRule/payments', 'Gateway/meshlab-gateway', 'RequestAuthentication/meshlab-issuer', 'VirtualService/meshlab-ingress', 'VirtualService/payments']);
    expect(config.version).toBeGreaterThanOrEqual(1);
    expect(version).toBeGreaterThanOrEqual(1);
    expect((await json(`${world.gatewayUrl}/orders`, { body: { user_id: 'u', items: [{ sku: 'a', qty: 1, unit_price: 1 }] } })).status).toBe(201);
  });
});
