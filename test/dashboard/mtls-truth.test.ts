import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'undici';
import type { Page } from 'playwright-core';
import { World, tempWorldDir } from '../../world/world';
import { DEFAULT_TOPOLOGY, type Topology } from '../../world/topology';
import { json, ORDER } from '../support/http';
import { ARTIFACTS, browserAvailable, launchBrowser } from './browser';
import { STRICT_PEER_AUTHENTICATION } from '../../scenarios/runner/fixtures';

declare const window: unknown;

type ModelEdge = { source: string; target: string; requests: number; mtls: boolean; mtlsShare: number | null; reporter: string };


/** Every hop the test needs with one payments instance: fewer processes to start on a busy machine. */
const ONE_PAYMENTS: Topology = { ...DEFAULT_TOPOLOGY, services: DEFAULT_TOPOLOGY.services.map((s) => (s.name === 'payments' ? { ...s, versions: { v1: 1 } } : s)) };

const run = browserAvailable() ? describe : describe.skip;

/**
 * The dashboard tells the truth about mTLS (issue #20): the source sidecar reports connection_security_policy
 * "unknown" (as Istio's does), so the edges read the destination's report, as Kiali does. In a real Chromium:
 * PERMISSIVE with sidecar callers (locked) and a plaintext caller without a sidecar (an "unknown" edge, open),
 * then STRICT (the plaintext caller is refused and its edge carries no traffic; the mesh edges stay locked).
 */
run('dashboard mTLS truth in Chromium', () => {
  const dir = tempWorldDir('meshlab-mtls-dash-');
  let world: World;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let inbound = '';
  const shot = async (name: string): Promise<void> => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const orders = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER })).status).toBe(201);
  };
  /** A caller with no sidecar: plaintext straight to payments-v1-0's inbound listener. Resolves to the status, or the error's code. */
  const plaintext = async (): Promise<number | string> => {
    const pool = new Pool(inbound, { connections: 1 });
    try {
      const r = await pool.request({ method: 'GET', path: '/api/payments/validate?amount=1', headers: { host: 'payments' }, headersTimeout: 3000 });
      await r.body.dump();
      return r.statusCode;
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    } finally {
      await pool.destroy();
    }
  };
  const edge = (source: string, target: string) => page.evaluate(([s, t]) => (window as { __meshModel?: { graph: { edges: ModelEdge[] } } }).__meshModel?.graph.edges.find((e) => e.source === s && e.target === t), [source, target]);

  beforeAll(async () => {
    [world, browser] = await Promise.all([World.start({ topology: ONE_PAYMENTS, dataDir: `${dir}/data`, logDir: `${dir}/logs`, chaosPort: false, env: { MESH_SEED: '3' } }), launchBrowser()]);
    inbound = `http://127.0.0.1:${world.state().instances.find((i) => i.id === 'payments-v1-0')!.sidecar.ports.inbound}`;
    page = await browser.context.newPage();
    await page.goto(`${world.controlPlaneUrl}/`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('PERMISSIVE: orders → payments is locked (destination says mutual_tls, source says unknown); a plaintext caller is an open edge from "unknown"', async () => {
    await orders(12);
    const row = page.locator('tr[data-edge="orders:v1>payments:v1"] td[data-mtls]');
    await page.waitForSelector('tr[data-edge="orders:v1>payments:v1"] td[data-mtls="yes"]', { timeout: 10_000 });
    expect(await row.textContent()).toContain('yes');
    expect(await edge('orders:v1', 'payments:v1')).toMatchObject({ mtls: true, mtlsShare: 1, reporter: 'source' });
    const codes: (number | string)[] = [];
    for (let i = 0; i < 5; i++) codes.push(await plaintext());
    // PERMISSIVE lets plaintext in; the default AuthorizationPolicy (orders only, by SPIFFE id) then says 403.
    expect(codes).toEqual([403, 403, 403, 403, 403]);
    // Within the 5 s edge window the destination's report of those 5 shows as an edge from "unknown".
    await page.waitForFunction(() => {
      const e = (window as { __meshModel?: { graph: { edges: ModelEdge[] } } }).__meshModel?.graph.edges.find((x) => x.source === 'unknown' && x.target === 'payments:v1');
      return !!e && e.requests === 5;
    }, undefined, { timeout: 5000 });
    expect(await edge('unknown', 'payments:v1')).toMatchObject({ requests: 5, mtls: false, mtlsShare: 0, reporter: 'destination' });
    await page.waitForSelector('tr[data-edge="unknown>payments:v1"] td[data-mtls="no"]', { timeout: 3000 });
    // The graph: a lock on the mesh edge's label, none on the plaintext one.
    expect(await page.locator('g.edge[data-source="orders:v1"][data-target="payments:v1"][data-mtls="yes"]').count()).toBe(1);
    expect(await page.locator('g.edge-label[data-source="orders:v1"][data-target="payments:v1"] g.lock').count()).toBe(1);
    expect(await page.locator('g.edge[data-source="unknown"][data-target="payments:v1"][data-mtls="no"]').count()).toBe(1);
    expect(await page.locator('g.edge-label[data-source="unknown"][data-target="payments:v1"] g.lock').count()).toBe(0);
    await shot('mtls-1-permissive');
  });

  test('STRICT: the plaintext caller is refused at the handshake (counted by the listener, no request), the mesh edges stay locked', async () => {
    const refused = async () => Number(/meshlab_inbound_connections_refused_total\{[^}]*\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${world.state().instances.find((i) => i.id === 'payments-v1-0')!.sidecar.ports.admin}/metrics`)).text())?.[1] ?? 0);
    const before = await refused();
    const res = await json(`${world.controlPlaneUrl}/v1/config/apply`, { body: { files: [{ name: 'strict.yaml', text: STRICT_PEER_AUTHENTICATION }] } });
    expect(res.status).toBe(200);
    await world.waitForSync();
    const code = await plaintext();
    expect(typeof code).toBe('string'); // no HTTP status: the connection was cut
    expect(await refused()).toBe(before + 1);
    // The 5 s edge window moves past the plaintext requests; mesh traffic keeps flowing over mTLS.
    const deadline = Date.now() + 15_000;
    let open: ModelEdge | undefined;
    for (;;) {
      await orders(3);
      open = await edge('unknown', 'payments:v1');
      const locked = await edge('orders:v1', 'payments:v1');
      if ((open === undefined || open.requests === 0) && locked?.mtls) break;
      if (Date.now() > deadline) throw new Error(`after STRICT: unknown → payments:v1 ${JSON.stringify(open)}, orders → payments:v1 ${JSON.stringify(locked)}`);
    }
    expect(open?.requests ?? 0).toBe(0);
    await page.waitForSelector('tr[data-edge="orders:v1>payments:v1"] td[data-mtls="yes"]', { timeout: 5000 });
    await shot('mtls-2-strict');
  });
});
