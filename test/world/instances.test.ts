import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { json } from '../support/http';

/** Live instances: `meshlab scale` / `meshlab rollout` reach the world through its instance API. */
describe('live instances (the world’s instance API)', () => {
  const dir = tempWorldDir();
  let world: World;
  let api = '';

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, env: { MESH_SEED: '5' } });
    api = await world.serveInstanceControl();
  }, 90_000);

  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ids = (): string[] => [...world.instances.keys()].filter((id) => id.startsWith('payments-')).sort();

  test('bad scale and rollout requests get 400 naming each problem, and change nothing', async () => {
    const before = ids();
    const scale = await json(`${api}/v1/world/scale`, { body: { service: 'billing', version: 'two', replicas: 99 } });
    expect(scale.status).toBe(400);
    expect(scale.body.error).toBe('service must be one of orders, payments, notifications, got "billing"; version must look like v1 or v3, got "two"; replicas must be an integer from 0 to 10, got 99');
    const rollout = await json(`${api}/v1/world/rollout`, { body: { service: 'payments', from: 'v7', to: 'v8' } });
    expect(rollout.status).toBe(400);
    expect(rollout.body.error).toBe('no payments instance runs v7');
    const last = await json(`${api}/v1/world/scale`, { body: { service: 'orders', version: 'v1', replicas: 0 } });
    expect(last.body.error).toBe('scaling orders v1 to 0 would leave orders without any instance');
    expect(ids()).toEqual(before);
  });

  test('scaling payments v2 to 2 adds payments-v2-1, which answers requests once ready; back to 1 drains it away', async () => {
    const up = await json(`${api}/v1/world/scale`, { body: { service: 'payments', version: 'v2', replicas: 2 } });
    expect(up.status).toBe(200);
    expect(up.body.added).toEqual(['payments-v2-1']);
    expect(ids()).toEqual(['payments-v1-0', 'payments-v1-1', 'payments-v2-0', 'payments-v2-1']);
    // Every sidecar already has the new endpoint: 40 calls spread over four instances reach it (LEAST_REQUEST, seeded).
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await json(`${world.gatewayUrl}/api/payments/validate?amount=1`)).body.instance);
    expect(seen.has('payments-v2-1')).toBe(true);
    const down = await json(`${api}/v1/world/scale`, { body: { service: 'payments', version: 'v2', replicas: 1 } });
    expect(down.body.removed).toEqual(['payments-v2-1']);
    const after = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const r = await json(`${world.gatewayUrl}/api/payments/validate?amount=1`);
      expect(r.status).toBe(200);
      after.add(r.body.instance);
    }
    expect(after.has('payments-v2-1')).toBe(false);
  }, 90_000);
});
