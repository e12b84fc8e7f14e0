/**
 * A chaos soak, Jepsen-style: the whole world under steady order load while a seeded schedule
 * injects one fault at a time — SIGKILL and restart of a random instance (app and sidecar, or the
 * sidecar alone; notifications mid-stream included), a control-plane crash and restart, a network
 * toxic on a random edge (the chaos server), a sick instance (its lab hook) — and a config change
 * every few seconds. Then it heals everything, waits for quiescence and checks what must hold:
 * every accepted order CONFIRMED or REJECTED, charged at most once (exactly once if confirmed),
 * notified exactly once, no orphan charge or notification (scenarios/runner/invariants.ts), no
 * sidecar RSS growth, no process left behind after stop.
 *
 * With `bus: 'kafka' | 'rabbitmq'` the world's bus is a broker of the soak's own (scenarios/runner/own-broker.ts:
 * the machine's shared brokers are never stopped), and a broker outage joins the schedule: the broker stops,
 * the outbox holds the events, the broker returns and they drain. With the in-memory broker (the default)
 * there is no outage to inject: its log does not survive its process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { World, tempWorldDir } from '../world/world';
import { applyConfig } from '../world/config-client';
import { processAlive } from '../world/state';
import { ChaosClient, type ToxicSpec } from '../chaos/client';
import { checkInvariants } from '../scenarios/runner/invariants';
import type { Expectation } from '../scenarios/runner/report';
import { paymentsSplit } from '../scenarios/runner/fixtures';
import { seededRandom } from '../lib/random';
import { startOwnBroker, type OwnBroker } from '../scenarios/runner/own-broker';

export interface SoakOptions {
  minutes: number;
  seed: number;
  /** Orders per second of the steady load. */
  rate?: number;
  /** A config change every this many ms. */
  configEveryMs?: number;
  /** The world's bus: the in-memory broker (default), or a real Kafka/RabbitMQ of the soak's own, whose outage is then one of the faults. */
  bus?: 'memory' | 'kafka' | 'rabbitmq';
  log?: (line: string) => void;
}

export interface ScheduledFault {
  atMs: number;
  kind: 'kill-instance' | 'kill-sidecar' | 'control-plane-restart' | 'toxic' | 'sick' | 'broker-outage';
  target: string;
  detail: string;
  healedAtMs?: number;
  error?: string;
}

export interface SoakReport {
  seed: number;
  bus: 'memory' | 'kafka' | 'rabbitmq';
  minutes: number;
  schedule: ScheduledFault[];
  configChanges: { applied: number; skipped: number; failed: string[] };
  clients: Record<string, number>;
  orders: Record<string, number>;
  rss: { process: string; startKb: number; endKb: number }[];
  invariants: Expectation[];
  pass: boolean;
  /** Where the world's process logs were kept: a soak that fails keeps them (one that passes removes them). */
  logsKept?: string;
  /** When an invariant fails: where the event pipeline stood at the end (outbox backlog, consumer lag, the apps' bus warnings). */
  diagnosis?: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Where the order → event → notification pipeline stood when an invariant failed, for a run nobody can rerun (CI):
 * each app's own gauges (orders' outbox backlog, notifications' consumer lag) and the last bus warnings in their logs.
 */
export async function diagnose(world: World, logDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const [id, inst] of world.instances) {
    if (!/^(orders|notifications)-/.test(id)) continue;
    const text = await fetch(`http://127.0.0.1:${inst.app.ports.http}/metrics`).then((r) => r.text()).catch((err: Error) => `unreachable: ${err.message}`);
    const gauges = text.split('\n').filter((l) => /^meshlab_(outbox_backlog|consumer_lag)\b/.test(l));
    out.push(`${id}: ${gauges.length ? gauges.join('; ') : text.startsWith('unreachable') ? text : 'no outbox or lag gauge'}`);
    const logFile = path.join(logDir, `${id}.log`);
    const warnings = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => /kafka|rabbitmq|outbox|bus/i.test(l)) : [];
    for (const w of warnings.slice(-6)) out.push(`  ${id} log: ${w.slice(0, 240)}`);
  }
  return out;
}

function rssKb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sidecar RSS may grow this much over the soak (heap settling, TLS session caches) before it counts as a leak. */
export const RSS_GROWTH_LIMIT = { factor: 1.5, slackKb: 32 * 1024 };

/**
 * The kinds of the schedule's faults, in order: every kind of `kinds` once, shuffled, then random picks (a kind listed
 * twice is picked twice as often). A soak long enough for `kinds.length` faults injects each kind at least once,
 * whatever the seed; before, a 2-minute soak drew ~26 faults at random and could miss the broker outage (p ≈ 5%).
 */
export function faultSequence<K>(kinds: readonly K[], rnd: () => number): () => K {
  const first = [...new Set(kinds)];
  for (let i = first.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [first[i], first[j]] = [first[j], first[i]];
  }
  let n = 0;
  return () => (n < first.length ? first[n++] : kinds[Math.floor(rnd() * kinds.length)]);
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  // One stream each for the fault schedule, the load and the config changes: the three loops run concurrently, and
  // drawing from one shared stream made the schedule depend on how their draws interleaved (seed 21 once drew no
  // broker outage at all).
  const rnd = seededRandom(opts.seed);
  const loadRnd = seededRandom(opts.seed ^ 0x5bd1e995);
  const configRnd = seededRandom(opts.seed ^ 0x27d4eb2f);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const durationMs = opts.minutes * 60_000;
  const rate = opts.rate ?? 5;
  const dir = tempWorldDir('meshlab-soak-');
  const busKind = opts.bus ?? 'memory';
  const broker: OwnBroker | undefined = busKind === 'memory' ? undefined : await startOwnBroker(busKind, log);
  const world = await World.start({
    bus: broker ? { kind: busKind, url: broker.url } : undefined,
    dataDir: path.join(dir, 'data'),
    logDir: path.join(dir, 'logs'),
    env: { MESH_SEED: String(opts.seed), ORDERS_RECONCILE_MS: '500', ORDERS_RECONCILE_GRACE_MS: '2000' },
  }).catch(async (err: unknown) => {
    await broker?.close();
    throw err;
  });
  let brokerDown = false;
  const everyPid = new Set<number>();
  const notePids = (): void => {
    for (const p of world.state().processes) if (p.pid) everyPid.add(p.pid);
  };
  notePids();
  const chaos = new ChaosClient(world.chaosUrl!);
  const schedule: ScheduledFault[] = [];
  const clients: Record<string, number> = {};
  const configChanges = { applied: 0, skipped: 0, failed: [] as string[] };
  const t0 = Date.now();
  const at = (): number => Date.now() - t0;
  let cpDown = false;
  let stopping = false;
  let report: SoakReport | undefined;

  try {
    // Steady load: `rate` orders/s, each on its own (open loop), whatever the faults do to them.
    const inFlight = new Set<Promise<void>>();
    const order = async (i: number): Promise<void> => {
      const unitPrice = loadRnd() < 0.05 ? 6000 : Math.round(loadRnd() * 10000) / 100 + 0.01; // ~5 % above the credit limit: REJECTED
      let outcome: string;
      try {
        const res = await fetch(`${world.gatewayUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: `soak-${i % 50}`, items: [{ sku: `SKU-${i % 7}`, qty: 1, unit_price: unitPrice }] }), signal: AbortSignal.timeout(15_000) });
        await res.arrayBuffer();
        outcome = String(res.status);
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'client timeout' : `connection error`;
      }
      clients[outcome] = (clients[outcome] ?? 0) + 1;
    };
    const load = (async () => {
      for (let i = 0; !stopping; i++) {
        const p = order(i).finally(() => inFlight.delete(p));
        inFlight.add(p);
        const next = t0 + ((i + 1) * 1000) / rate;
        await sleep(Math.max(0, next - Date.now()));
      }
      await Promise.all(inFlight);
    })();

    // A config change every few seconds: payments' v1/v2 split, to random weights.
    const configs = (async () => {
      while (!stopping) {
        await sleep(opts.configEveryMs ?? 3000);
        if (stopping) break;
        if (cpDown) {
          configChanges.skipped++;
          continue;
        }
        const v1 = Math.floor(configRnd() * 101);
        try {
          // The control plane's all-or-nothing apply; not World.applyConfig, whose wait for every sidecar's ACK
          // cannot succeed while a fault holds an instance's sidecar down (a fault, not a config failure).
          await applyConfig(world.controlPlaneUrl, [{ name: 'soak-split.yaml', text: paymentsSplit(v1, 100 - v1) }]);
          configChanges.applied++;
        } catch (err) {
          if (cpDown) configChanges.skipped++;
          else configChanges.failed.push(`${at()} ms: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    })();

    // Warm-up, then the baseline RSS of every sidecar.
    await sleep(3000);
    const rssStart = new Map<string, { pid: number; kb: number }>();
    const sidecars = (): { name: string; pid: number | undefined }[] => [{ name: 'gateway', pid: world.gateway.pid }, ...[...world.instances.values()].map((i) => ({ name: i.sidecar.spec.name, pid: i.sidecar.pid }))];
    for (const s of sidecars()) rssStart.set(s.name, { pid: s.pid ?? 0, kb: rssKb(s.pid) });

    // The fault schedule: one at a time, held a few seconds, then healed.
    const ids = [...world.instances.keys()];
    const edges = Object.keys(await chaos.listProxies());
    const faultKinds: ScheduledFault['kind'][] = ['kill-instance', 'kill-instance', 'kill-sidecar', 'control-plane-restart', 'toxic', 'toxic', 'sick', 'sick'];
    if (broker) faultKinds.push('broker-outage');
    const kinds = faultSequence(faultKinds, rnd);
    while (at() < durationMs - 8000) {
      const kind = kinds();
      const fault: ScheduledFault = { atMs: at(), kind, target: '', detail: '' };
      schedule.push(fault);
      const holdMs = 1000 + Math.floor(rnd() * 3000);
      try {
        if (kind === 'kill-instance' || kind === 'kill-sidecar') {
          const id = pick(ids);
          fault.target = id;
          fault.detail = kind === 'kill-instance' ? 'SIGKILL app and sidecar, restart' : 'SIGKILL the sidecar alone, restart the pod';
          if (kind === 'kill-instance') await world.killInstance(id);
          else await world.instances.get(id)!.sidecar.kill();
          await sleep(holdMs);
          await world.restartInstance(id);
          notePids();
        } else if (kind === 'control-plane-restart') {
          fault.target = 'control-plane';
          fault.detail = 'SIGKILL, restart on the same port';
          cpDown = true;
          await world.stopControlPlane(true);
          await sleep(holdMs);
          await world.startControlPlane();
          cpDown = false;
          notePids();
        } else if (kind === 'broker-outage') {
          fault.target = `${broker!.kind} ${broker!.url}`;
          fault.detail = 'broker stopped, then started again';
          brokerDown = true;
          await broker!.stop();
          await sleep(holdMs);
          await broker!.start();
          brokerDown = false;
        } else if (kind === 'toxic') {
          const edge = pick(edges);
          const toxic: ToxicSpec = pick<ToxicSpec>([
            { type: 'latency', attributes: { latency: 200 + Math.floor(rnd() * 800), jitter: 50 } },
            { type: 'reset_peer', attributes: { timeout: 0 }, toxicity: 0.3 },
            { type: 'timeout', attributes: { timeout: 500 }, toxicity: 0.3 },
          ]);
          fault.target = edge;
          fault.detail = `${toxic.type} ${JSON.stringify(toxic.attributes)}${toxic.toxicity !== undefined ? ` toxicity ${toxic.toxicity}` : ''}`;
          const added = await chaos.addToxic(edge, { ...toxic, name: 'soak' });
          await sleep(holdMs);
          await chaos.removeToxic(edge, added.name);
        } else {
          const id = pick(ids);
          const sick = pick([{ error_rate: 0.5, status: 503 }, { error_rate: 1, status: 500 }, { latency_ms: 1500 }]);
          fault.target = id;
          fault.detail = JSON.stringify(sick);
          const lab = `http://127.0.0.1:${world.instances.get(id)!.app.ports.lab}/lab/sick`;
          await (await fetch(lab, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sick) })).arrayBuffer();
          await sleep(holdMs);
          await (await fetch(lab, { method: 'DELETE' })).arrayBuffer();
        }
      } catch (err) {
        fault.error = (err as Error).message.split('\n')[0];
        cpDown = false;
      }
      fault.healedAtMs = at();
      log(`soak ${Math.round(at() / 1000)} s: ${fault.kind} ${fault.target} (${fault.detail})${fault.error ? ` — ERROR ${fault.error}` : ''}; clients so far ${JSON.stringify(clients)}`);
      await sleep(500 + Math.floor(rnd() * 1500));
    }
    while (at() < durationMs) await sleep(Math.min(1000, durationMs - at()));
    stopping = true;
    await Promise.all([load, configs]);

    // Heal everything that may be left (a fault whose heal step failed), then quiescence.
    await chaos.reset().catch(() => undefined);
    if (brokerDown) await broker!.start();
    if (!world.controlPlane.running) await world.startControlPlane();
    for (const [id, inst] of world.instances) {
      if (!inst.app.running || !inst.sidecar.running) await world.restartInstance(id);
      await fetch(`http://127.0.0.1:${world.instances.get(id)!.app.ports.lab}/lab/sick`, { method: 'DELETE' }).then((r) => r.arrayBuffer()).catch(() => undefined);
    }
    notePids();
    await world.waitForSync(30_000);
    const ordersUrl = `http://127.0.0.1:${world.instances.get('orders-v1-0')!.app.ports.http}`;
    const counts = async (): Promise<Record<string, number>> => ((await (await fetch(`${ordersUrl}/orders?limit=1`)).json()) as { counts: Record<string, number> }).counts;
    const quiet = Date.now() + 60_000;
    let orders = await counts();
    while ((orders.PENDING ?? 0) > 0 && Date.now() < quiet) {
      await sleep(250);
      orders = await counts();
    }
    const invariants = await checkInvariants(() => world.state(), 30_000);
    invariants.unshift({ name: 'every accepted order ends CONFIRMED or REJECTED (none PENDING after quiescence)', expected: '0 PENDING', measured: `${orders.PENDING ?? 0} PENDING of ${Object.values(orders).reduce((a, b) => a + b, 0)}`, pass: (orders.PENDING ?? 0) === 0 });

    const rss: SoakReport['rss'] = [];
    for (const s of sidecars()) {
      const start = rssStart.get(s.name);
      if (!start || start.pid !== s.pid || !start.kb) continue; // restarted during the soak: a new process, no baseline
      rss.push({ process: s.name, startKb: start.kb, endKb: rssKb(s.pid) });
    }
    const grown = rss.filter((r) => r.endKb > r.startKb * RSS_GROWTH_LIMIT.factor + RSS_GROWTH_LIMIT.slackKb);
    invariants.push({ name: `no sidecar RSS growth (end ≤ start × ${RSS_GROWTH_LIMIT.factor} + ${RSS_GROWTH_LIMIT.slackKb / 1024} MiB, sidecars never restarted)`, expected: `0 of ${rss.length} grow`, measured: grown.length ? grown.map((g) => `${g.process} ${g.startKb}→${g.endKb} kB`).join(', ') : `0 (${rss.map((r) => `${r.process} ${Math.round(r.startKb / 1024)}→${Math.round(r.endKb / 1024)} MiB`).join(', ')})`, pass: grown.length === 0 && rss.length > 0 });
    invariants.push({ name: 'every scheduled fault was injected and healed', expected: '0 errors', measured: String(schedule.filter((f) => f.error).length), pass: schedule.every((f) => !f.error) });
    invariants.push({ name: 'every config change accepted by the control plane while it was up', expected: '0 failed', measured: `${configChanges.failed.length} failed, ${configChanges.applied} applied, ${configChanges.skipped} skipped (control plane down)`, pass: configChanges.failed.length === 0 });
    report = { seed: opts.seed, bus: busKind, minutes: opts.minutes, schedule, configChanges, clients, orders, rss, invariants, pass: false };
    if (!invariants.every((e) => e.pass)) report.diagnosis = await diagnose(world, path.join(dir, 'logs'));
  } finally {
    stopping = true;
    await world.stop();
    await broker?.close();
    const left = [...everyPid].filter((pid) => processAlive(pid));
    if (report) {
      report.invariants.push({ name: 'no process left behind after stop', expected: `0 of ${everyPid.size} alive`, measured: left.length ? left.join(', ') : '0', pass: left.length === 0 });
      report.pass = report.invariants.every((e) => e.pass);
    }
    if (report?.pass) fs.rmSync(dir, { recursive: true, force: true });
    else if (report) report.logsKept = path.join(dir, 'logs');
  }
  return report!;
}
