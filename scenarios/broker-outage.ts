import type { BusKind } from '../bus/types';
import { defineScenario } from './runner/scenario';
import type { Scenario } from './runner/scenario';
import { ORDER } from './runner/fixtures';

const ORDERS = 'orders-v1-0';

/**
 * The event path under a broker outage: orders keeps taking orders, their events wait in the
 * transactional outbox, and after recovery every confirmed order is notified exactly once.
 */
function brokerOutage(kind: Exclude<BusKind, 'memory'>): Scenario {
  const label = kind === 'kafka' ? 'Kafka' : 'RabbitMQ';
  return defineScenario({
    name: kind === 'kafka' ? 'broker-outage' : 'broker-outage-rabbitmq',
    title: `a real ${label} ${kind === 'kafka' ? 'broker' : 'node'} of the lab's own stops mid-traffic: orders keep confirming, events wait in the outbox, none lost or doubled`,
    teaches: [
      'orders writes order.created to an outbox in the same transaction as the order; a relay publishes it and marks it',
      `sent only when ${label} acknowledged. notifications dedupes by event id and commits only after its write, so a`,
      'broker outage delays notifications but loses or doubles none.',
    ],
    // A broker of its own: the outage stops it, and the machine's shared broker must never be stopped.
    ownBroker: kind,
    control: {
      removes: `the transactional outbox (lab control outbox=false: orders publishes each event straight to ${label} after its commit)`,
      shows: `publishing straight to the bus, the events of the orders confirmed while ${label} is down are lost: those orders are never notified`,
      fails: [`events waiting in the outbox while ${label} is down`, 'invariant: every confirmed order notified exactly once'],
    },
    async run(ctx) {
      const outageMs = ctx.pick(10000, 5000);
      const stop = (): Promise<void> => ctx.broker.stop();
      const start = (): Promise<void> => ctx.broker.start();
      if (ctx.control) await ctx.lab(ORDERS).sick({ outbox: false });
      const state = ctx.world.state();
      const ordersApp = `http://${state.host}:${state.instances.find((i) => i.id === ORDERS)!.app.ports.http}`;
      const backlog = async (): Promise<number> => {
        const text = await (await fetch(`${ordersApp}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('meshlab_outbox_backlog'));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
      };
      const load = ctx.load('orders', { path: '/orders', body: ORDER, rps: 20, durationMs: outageMs + ctx.pick(6000, 4000), concurrency: 16 });
      await new Promise((r) => setTimeout(r, 1500));
      ctx.mark(`stopping ${label}`);
      let restarted = false;
      try {
        await stop();
        ctx.mark(`${label} down`);
        await new Promise((r) => setTimeout(r, outageMs));
        const waiting = await backlog();
        ctx.expectAtLeast(`events waiting in the outbox while ${label} is down`, waiting, 1);
        await start();
        restarted = true;
        ctx.mark(`${label} back`);
      } finally {
        if (!restarted) await start();
      }
      const samples = await load;
      ctx.expectEqual(`orders confirmed during the outage (of ${samples.length})`, samples.filter((s) => s.status === 201).length, samples.length);
      const drained = await ctx.waitFor(async () => ((await backlog()) === 0 ? true : undefined), 30000);
      ctx.expectEqual('outbox backlog after recovery', drained ? 0 : await backlog(), 0);
      ctx.mark('outbox drained');
      // The invariant check that follows is the verdict on "nothing lost, nothing doubled".
    },
  });
}

export const kafkaOutage = brokerOutage('kafka');
export const rabbitOutage = brokerOutage('rabbitmq');
