import path from 'node:path';
import Database from 'better-sqlite3';
import { ChaosClient } from '../chaos/client';
import { defineScenario } from './runner/scenario';
import { ORDER } from './runner/fixtures';
import { percentile } from './runner/load';
import { hasFlag } from './runner/flags';
import type { Scenario } from './runner/scenario';

const ORDERS = 'orders-v1-0';
const LATENCY_MS = 300;

/** One outbox row as the lab reads it: when the order's event was written and when RabbitMQ acknowledged it. */
interface OutboxRow {
  created: number;
  sent?: number;
}

/**
 * The broker as a mesh destination: orders' and notifications' broker connections go through their
 * sidecars (an outbound TCP listener each), so the mesh's tools reach the broker hop. Latency on the
 * orders → broker edge slows publishing, not ordering; cutting the edge holds events in the outbox;
 * restoring it drains them — measured from orders' outbox table, its sidecar's TCP access log and its
 * istio_tcp_* metrics, and nothing is lost (the invariant check). RabbitMQ, and Kafka (whose
 * advertised listener the pod's capture table sends through the sidecar too).
 */
function brokerThroughMesh(kind: 'rabbitmq' | 'kafka'): Scenario {
  const label = kind === 'kafka' ? 'Kafka' : 'RabbitMQ';
  /** The chaos proxy on the mesh's orders → broker edge (world/broker-mesh.ts). */
  const EDGE = `orders->${kind}-0`;
  const CLUSTER = `outbound|${kind === 'kafka' ? 9092 : 5672}||${kind}.default.svc.cluster.local`;
  return defineScenario({
    name: kind === 'kafka' ? 'broker-through-mesh-kafka' : 'broker-through-mesh',
    title: `${label} through the sidecars: +${LATENCY_MS} ms on the orders→broker edge slows publishing, a cut fills the outbox, restoring drains it; nothing lost`,
    teaches: [
      "A service reaches its broker through its sidecar's outbound TCP listener (Istio's outbound listener for a TCP port),",
      'so the broker hop is a mesh edge: TCP metrics (istio_tcp_*), access log flags (UF,URX for a refused connect) and',
      'network faults apply to it. The transactional outbox keeps the orders path off that edge: slow or cut, nothing is lost.',
    ],
    // A broker of the lab's own: its queues and topics are the lab's alone (the machine's shared broker is never touched).
    ownBroker: kind,
    world: (control) => ({ busThroughMesh: !control }),
    control: {
      removes: `the mesh on the broker hop (the apps connect to ${label} directly, as before issue #17): the same faults go on the same edge proxy`,
      shows: 'a connection the mesh does not carry is out of its reach: the edge latency and the cut change nothing, no outbox backlog, and the sidecar has no TCP record of the broker',
      fails: ['publish latency (outbox created → acknowledged) p50 under the edge latency', 'events held in the outbox while the edge is cut', "orders' sidecar refused broker connects while the edge is cut", 'events written during the cut acknowledged after the restore', "broker bytes counted by orders' sidecar"],
    },
    async run(ctx) {
      if (!ctx.world.chaosUrl) throw new Error(`this lab needs the chaos server (the ${EDGE} edge proxy)`);
      const chaos = new ChaosClient(ctx.world.chaosUrl);
      const state = ctx.world.state();
      const broker = ctx.broker;
      if (ctx.control) {
        // The same edge proxy as the lab's world has, pointing at the same broker: only the apps do not use it.
        const upstream = kind === 'kafka' ? broker.url : `${new URL(broker.url).hostname}:${new URL(broker.url).port}`;
        await chaos.ensureProxy({ name: EDGE, upstream });
      }
      const ordersApp = `http://${state.host}:${state.instances.find((i) => i.id === ORDERS)!.app.ports.http}`;
      const backlog = async (): Promise<number> => {
        const text = await (await fetch(`${ordersApp}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('meshlab_outbox_backlog'));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
      };
      const db = new Database(path.join(state.dataDir, 'orders.db'), { readonly: true, fileMustExist: true });
      const rows = (from: number, to: number): OutboxRow[] =>
        (db.prepare('SELECT created_at, sent_at FROM outbox WHERE created_at >= ? AND created_at < ?').all(new Date(from).toISOString(), new Date(to).toISOString()) as { created_at: string; sent_at: string | null }[]).map((r) => ({
          created: Date.parse(r.created_at),
          ...(r.sent_at ? { sent: Date.parse(r.sent_at) } : {}),
        }));
      const publishP50 = (list: OutboxRow[]): number => percentile(list.filter((r) => r.sent !== undefined).map((r) => r.sent! - r.created), 50);
      const brokerBytes = (): Promise<number> => ctx.metric(ORDERS, 'istio_tcp_received_bytes_total', { reporter: 'source', destination_service_name: kind });
      const phaseMs = ctx.pick(5000, 3000);
      const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

      try {
        const load = ctx.load('orders', { path: '/orders', body: ORDER, rps: 20, durationMs: phaseMs * 4, concurrency: 16 });
        const t0 = Date.now();
        await wait(phaseMs);
        const t1 = Date.now();
        await chaos.addToxic(EDGE, { name: 'slow', type: 'latency', stream: 'downstream', attributes: { latency: LATENCY_MS, jitter: 0 } });
        ctx.mark(`+${LATENCY_MS} ms on ${EDGE}`);
        await wait(phaseMs);
        const t2 = Date.now();
        await chaos.removeToxic(EDGE, 'slow');
        await chaos.setEnabled(EDGE, false);
        ctx.mark(`${EDGE} cut`);
        await wait(phaseMs);
        const held = await backlog();
        const cutLog = (await ctx.accessLog(ORDERS)).filter((e) => e.upstream_cluster === CLUSTER && Date.parse(e.start_time) >= t2);
        const bytesBefore = await brokerBytes();
        await chaos.setEnabled(EDGE, true);
        const t3 = Date.now();
        ctx.mark(`${EDGE} restored`);
        const samples = await load;
        const drained = await ctx.waitFor(async () => ((await backlog()) === 0 ? true : undefined), 30_000);
        ctx.mark('outbox drained');
        const bytesAfter = await brokerBytes();

        const base = rows(t0 + 500, t1);
        const slow = rows(t1 + 500, t2);
        ctx.mark(`publish latency p50: ${publishP50(base).toFixed(0)} ms before, ${publishP50(slow).toFixed(0)} ms with +${LATENCY_MS} ms on the edge (${base.length} / ${slow.length} events)`);
        ctx.expectAtLeast('publish latency (outbox created → acknowledged) p50 under the edge latency, above the p50 before', publishP50(slow) - publishP50(base), LATENCY_MS * 0.8, ' ms');
        ctx.expectEqual(`orders confirmed through latency, cut and restore (of ${samples.length})`, samples.filter((s) => s.status === 201).length, samples.length);
        ctx.expectAtLeast(`events held in the outbox while the edge is cut (after ${phaseMs / 1000} s)`, held, 10);
        ctx.expectAtLeast("orders' sidecar refused broker connects while the edge is cut (UF,URX, connection refused)", cutLog.filter((e) => hasFlag(e, 'UF') && hasFlag(e, 'URX')).length, 1);
        ctx.expectEqual('outbox backlog after the edge is restored', drained ? 0 : await backlog(), 0);
        const sentAfter = rows(t2, t3);
        ctx.expectEqual(`events written during the cut acknowledged after the restore (of ${sentAfter.length})`, sentAfter.filter((r) => r.sent !== undefined && r.sent >= t3).length, sentAfter.length);
        // Each order.created event is ~200 bytes of JSON before AMQP framing: the held events crossed orders' sidecar.
        ctx.expectAtLeast("broker bytes counted by orders' sidecar as the outbox drains (istio_tcp_received_bytes_total, per held event)", held > 0 ? (bytesAfter - bytesBefore) / held : 0, 200, ' B');
      } finally {
        db.close();
        await chaos.removeToxic(EDGE, 'slow').catch(() => undefined);
        await chaos.setEnabled(EDGE, true).catch(() => undefined);
      }
    },
  });
}

export const rabbitThroughMesh = brokerThroughMesh('rabbitmq');
export const kafkaThroughMesh = brokerThroughMesh('kafka');
