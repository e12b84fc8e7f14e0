import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'undici';
import type { Page } from 'playwright-core';
import { World, tempWorldDir } from '../../world/world';
import { json } from '../support/http';
import { ARTIFACTS, browserAvailable, launchBrowser } from './browser';
import { paymentsSplit } from '../../scenarios/runner/fixtures';

// Page-side code in page.evaluate/waitForFunction runs in the browser; the test's tsconfig has no DOM lib.
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };
declare const window: unknown;
declare const location: { hash: string };

const ORDER = JSON.stringify({ user_id: 'u-dash', items: [{ sku: 'SKU-1', qty: 1, unit_price: 5 }] });
const VS_50_50 = paymentsSplit(50, 50);

/** Light steady load through the gateway (open loop, `rps` orders/s) until stopped or `maxMs` passed. */
function lightLoad(gatewayUrl: string, rps: number, maxMs: number): { stop(): Promise<void>; sent: () => number } {
  const pool = new Pool(gatewayUrl, { connections: 8 });
  let stopped = false;
  let sent = 0;
  const t0 = Date.now();
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped && Date.now() - t0 < maxMs) {
      const p = pool
        .request({ method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: ORDER, headersTimeout: 5000, bodyTimeout: 5000 })
        .then((r) => r.body.dump())
        .catch(() => undefined)
        .finally(() => inflight.delete(p));
      inflight.add(p);
      sent++;
      await new Promise((r) => setTimeout(r, 1000 / rps));
    }
  })();
  return {
    sent: () => sent,
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inflight);
      await pool.close();
    },
  };
}

const run = browserAvailable() ? describe : describe.skip;

/** The dashboard in a real Chromium against a real world: graph, sick instance, canary split, policies, scenarios, traces, chaos. */
run('dashboard in Chromium', () => {
  const dir = tempWorldDir('meshlab-dash-');
  let world: World;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let load: ReturnType<typeof lightLoad>;
  const shot = async (name: string): Promise<void> => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const view = async (name: string): Promise<void> => {
    await page.evaluate((n) => (location.hash = n), name);
    await page.waitForSelector(`main[data-view="${name}"]`);
  };

  beforeAll(async () => {
    [world, browser] = await Promise.all([World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs` }), launchBrowser()]);
    const labs = world.state().instances.map((i) => ({ instance: i.id, url: `http://127.0.0.1:${i.app.ports.lab}` }));
    const wired = await json(`${world.controlPlaneUrl}/v1/dashboard/world`, { body: { chaosUrl: world.chaosUrl, labs } });
    expect(wired.status).toBe(200);
    load = lightLoad(world.gatewayUrl, 20, 55_000);
    page = await browser.context.newPage();
    await page.goto(`${world.controlPlaneUrl}/`);
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await browser?.close();
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the graph shows every service, and gateway → orders carries live traffic with mTLS state and p99', async () => {
    for (const svc of ['istio-ingressgateway', 'orders', 'payments', 'notifications']) await page.waitForSelector(`g.service-box[data-service="${svc}"]`, { timeout: 5000 });
    await page.waitForSelector('g.node[data-node="payments:v1"] circle.inst', { timeout: 5000 });
    expect(await page.locator('g.node[data-node="payments:v1"] circle.inst').count()).toBe(2);
    expect(await page.locator('g.node[data-node="payments:v2"] circle.inst').count()).toBe(1);
    const edge = page.locator('g.edge[data-source="istio-ingressgateway"][data-target="orders:v1"][data-health="healthy"]');
    await edge.waitFor({ timeout: 5000 });
    // 20 orders/s go in; the 5 s window has to be nearly full (≥ 80 requests in it) before the rate is meaningful:
    // on a busy machine responses complete in bursts, and a 1–2 s window right after a burst overstates the rate.
    await page.waitForFunction(() => {
      const e = (window as unknown as { __meshModel?: { graph: { edges: { source: string; target: string; rps: number; requests: number }[] } } }).__meshModel?.graph.edges.find((x) => x.source === 'istio-ingressgateway' && x.target === 'orders:v1');
      return !!e && e.rps >= 12 && e.requests >= 80;
    }, undefined, { timeout: 15000 });
    const rps = Number(await edge.getAttribute('data-rps'));
    expect(rps).toBeGreaterThanOrEqual(12);
    expect(rps).toBeLessThanOrEqual(30);
    await page.waitForSelector('g.edge[data-source="orders:v1"][data-target="payments:v2"]', { timeout: 5000 });
    await shot('1-graph');
  });

  test('making payments-v2-0 sick from the page turns orders → payments v2 red within 3 s', async () => {
    await view('chaos');
    const row = page.locator('tr[data-instance="payments-v2-0"]');
    await row.waitFor({ timeout: 5000 });
    const t0 = Date.now();
    await row.locator('button[data-action="fail"]').click();
    await page.locator('tr[data-instance="payments-v2-0"].sick').waitFor({ timeout: 3000 });
    await shot('4-chaos-sick');
    await view('graph');
    await page.locator('g.edge[data-source="orders:v1"][data-target="payments:v2"][data-health="failure"]').waitFor({ timeout: 3000 - (Date.now() - t0) });
    const elapsed = Date.now() - t0;
    console.log(`sick instance → red edge in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(3000);
    // The healthy version's edge stays green.
    expect(await page.locator('g.edge[data-source="orders:v1"][data-target="payments:v1"]').getAttribute('data-health')).toBe('healthy');
    await page.waitForSelector('g.node[data-node="payments:v2"] circle.inst.sick', { timeout: 3000 });
    await shot('2-graph-sick');
    const healed = await json(`${world.controlPlaneUrl}/v1/dashboard/labs/payments-v2-0/sick`, { method: 'DELETE' });
    expect(healed.status).toBe(200);
  });

  test('a 50/50 canary applied on the control plane shows in the split view', async () => {
    await view('split');
    const v1 = page.locator('.split[data-service="payments"] tr[data-subset="v1"] td.configured');
    await v1.waitFor({ timeout: 5000 });
    // config/default has no VirtualService: the split follows endpoint counts, 2 of 3 on v1.
    expect(await v1.textContent()).toBe('66.7%');
    const res = await json(`${world.controlPlaneUrl}/v1/config/apply`, { body: { files: [{ name: 'canary.yaml', text: VS_50_50 }] } });
    expect(res.status).toBe(200);
    await page.waitForFunction(() => document.querySelector('.split[data-service="payments"] tr[data-subset="v1"] td.configured')?.textContent === '50%', undefined, { timeout: 3000 });
    expect(await page.locator('.split[data-service="payments"] tr[data-subset="v2"] td.configured').textContent()).toBe('50%');
    expect(await page.locator('.split[data-service="payments"] .source').textContent()).toContain('VirtualService payments');
    const measured = await page.locator('.split[data-service="payments"] tr[data-subset="v2"] td.measured').textContent();
    expect(measured).toMatch(/^\d+(\.\d)?%$/);
    await shot('3-split');
  });

  test('policies: the YAML in force, analyzer messages, every proxy in sync', async () => {
    await view('policies');
    await page.waitForSelector('.policy[data-service="payments"] pre.yaml', { timeout: 5000 });
    const yaml = await page.locator('.policy[data-service="payments"]').textContent();
    expect(yaml).toContain('kind: VirtualService');
    expect(yaml).toContain('weight: 50');
    expect(yaml).toContain('kind: DestinationRule');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-proxy].synced').length === 6, undefined, { timeout: 5000 });
    expect(await page.locator('tr[data-proxy].stale').count()).toBe(0);
    await shot('5-policies');
  });

  test('chaos: a latency toxic added and removed from the page', async () => {
    await view('chaos');
    const row = page.locator('tr[data-proxy="orders->payments-v1-0"]');
    await row.waitFor({ timeout: 5000 });
    await row.locator('button[data-action="latency"]').click();
    await page.locator('tr[data-proxy="orders->payments-v1-0"] .chip[data-toxic="latency_downstream"]').waitFor({ timeout: 3000 });
    const proxies = (await json(`${world.chaosUrl}/proxies`)).body as Record<string, { toxics: { name: string; attributes: Record<string, number> }[] }>;
    expect(proxies['orders->payments-v1-0'].toxics).toEqual([expect.objectContaining({ name: 'latency_downstream', attributes: expect.objectContaining({ latency: 200 }) })]);
    await shot('6-chaos-toxic');
    await page.locator('tr[data-proxy="orders->payments-v1-0"] .chip[data-toxic="latency_downstream"] button.x').click();
    await page.waitForFunction(() => document.querySelectorAll('tr[data-proxy="orders->payments-v1-0"] .chip').length === 0, undefined, { timeout: 3000 });
    expect(((await json(`${world.chaosUrl}/proxies`)).body as Record<string, { toxics: unknown[] }>)['orders->payments-v1-0'].toxics).toEqual([]);
  });

  test('a scenario run posted to /v1/scenarios/events shows live, then its verdict, and is kept on disk', async () => {
    await view('scenarios');
    const cp = world.controlPlaneUrl;
    const start = await json(`${cp}/v1/scenarios/events`, { body: { type: 'start', scenario: 'canary', title: '90/10 then 50/50', seed: 42 } });
    expect(start.status).toBe(200);
    const runId = start.body.run as string;
    const events = [
      { type: 'event', run: runId, t: 200, label: 'VirtualService 90/10 applied' },
      ...Array.from({ length: 8 }, (_, i) => ({ type: 'progress', run: runId, series: 'orders', t: (i + 1) * 500, done: (i + 1) * 25, ok: (i + 1) * 25 - (i >= 5 ? (i - 4) * 5 : 0), failed: i >= 5 ? (i - 4) * 5 : 0 })),
      { type: 'event', run: runId, t: 2600, label: 'payments-v2-0 sick' },
      { type: 'expectation', run: runId, name: 'share on v2', expected: '10% ± 5%', measured: '9.6%', pass: true },
    ];
    expect((await json(`${cp}/v1/scenarios/events`, { body: events })).status).toBe(200);
    await page.waitForSelector(`.run[data-run="${runId}"] .badge[data-state="running"]`, { timeout: 3000 });
    await page.waitForSelector(`.run[data-run="${runId}"] table.verdict tr.pass`, { timeout: 3000 });
    expect(await page.locator(`.run[data-run="${runId}"] rect.fail-bar`).count()).toBe(3);
    await shot('7-scenario-live');
    const bad = await json(`${cp}/v1/scenarios/events`, { body: { type: 'progress', run: 'nope', t: 1, series: 'x', done: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('unknown run "nope"');
    const report = { scenario: 'canary', title: '90/10 then 50/50', passed: false, durationMs: 4100, expectations: [{ name: 'share on v2', expected: '10% ± 5%', measured: '9.6%', pass: true }], invariants: [{ name: 'invariant: nothing lost', expected: '0', measured: '2', pass: false }], events: [{ t: 200, label: 'VirtualService 90/10 applied' }] };
    expect((await json(`${cp}/v1/scenarios/events`, { body: { type: 'report', run: runId, report } })).status).toBe(200);
    await page.waitForSelector(`.run[data-run="${runId}"] .badge[data-state="failed"]`, { timeout: 3000 });
    await page.waitForSelector(`tr[data-run="${runId}"]`, { timeout: 3000 });
    expect(await page.locator(`.run[data-run="${runId}"] table.verdict tr.fail`).count()).toBe(1);
    const saved = path.join(dir, 'data', 'control-plane', 'scenario-reports', `${runId}.json`);
    expect(JSON.parse(fs.readFileSync(saved, 'utf8'))).toMatchObject({ run: runId, state: 'failed', report: { passed: false } });
    await shot('8-scenario-done');
  });

  test('traces of an order drawn as a waterfall across hops', async () => {
    await view('traces');
    await page.waitForSelector('.trace, .no-traces', { timeout: 5000 });
    // The newest trace whose gateway span is in: under the 20 orders/s of lightLoad the newest order is often still
    // in flight at the gateway, whose span is recorded last (when its response ends), so its trace has orders'
    // spans only for now — drawn correctly, but not yet across every hop.
    const first = page.locator('.trace').filter({ has: page.locator('.span-row[data-node="gateway"]') }).first();
    await first.waitFor({ timeout: 3000 });
    // At least the gateway's outbound span and the orders sidecar's inbound span, linked parent → child.
    // (orders→payments joins the same trace only once the apps forward `traceparent`.)
    expect(await first.locator('.span-row').count()).toBeGreaterThanOrEqual(2);
    expect(await first.locator('.span-row[data-node="gateway"][data-depth="0"]').count()).toBe(1);
    expect(await first.locator('.span-row[data-node="orders-v1-0"][data-depth="1"]').count()).toBe(1);
    expect(await first.locator('.trace-head').textContent()).toContain('/orders');
    await shot('9-traces');
  });

  test('with no browser connected the control plane stops scraping', async () => {
    await page.close();
    const cp = world.controlPlaneUrl;
    await new Promise((r) => setTimeout(r, 300));
    const a = (await json(`${cp}/v1/dashboard/status`)).body;
    expect(a.clients).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    const b = (await json(`${cp}/v1/dashboard/status`)).body;
    expect(b.rounds - a.rounds).toBeLessThanOrEqual(1);
  });
});
