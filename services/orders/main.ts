import { Gauge } from 'prom-client';
import { createBus } from '../../bus/create';
import { Peers } from '../shared/peer';
import { fatal, runService } from '../shared/runtime';
import { registerOrders } from './app';
import { OutboxRelay } from './outbox-relay';
import { PendingReconciler } from './reconciler';
import { OrderStore, orderCreated, type Order } from './store';
import { MessagingTracer } from '../shared/tracing';

runService(async ({ ctx, app, metrics, lab }) => {
  const store = new OrderStore(ctx.dataDir);
  const peers = new Peers(ctx.outboundUrl);
  const bus = createBus({ kind: ctx.bus.kind, url: ctx.bus.url, clientId: ctx.instance });
  const tracer = new MessagingTracer({ service: ctx.name, version: ctx.version, instance: ctx.instance, bus: ctx.bus.kind });
  const relay = new OutboxRelay(store, bus, { log: (m) => console.log(m), tracer });
  new Gauge({ name: 'meshlab_outbox_backlog', help: 'Outbox events not yet acknowledged by the broker.', registers: [metrics], collect() { this.set(store.outboxBacklog()); } });
  // Lab control `outbox: false`: one publish after the commit, no outbox row; a publish the bus refuses loses its event.
  const direct = {
    enabled: () => !lab.sickness.outbox,
    publish: (order: Order) => {
      const event = orderCreated(order);
      bus.publish('order.created', [{ id: event.event_id, key: order.id, value: JSON.stringify(event) }]).catch((err: Error) => console.log(`orders: outbox off (lab control): the event of ${order.id} is lost: ${err.message}`));
    },
  };
  const deps = { store, peers, onEvent: () => relay.wake(), direct };
  registerOrders(app, deps);
  const reconciler = new PendingReconciler(deps, { intervalMs: Number(process.env.ORDERS_RECONCILE_MS ?? 2000), graceMs: Number(process.env.ORDERS_RECONCILE_GRACE_MS ?? 5000), log: (m) => console.log(m) });
  relay.start();
  reconciler.start();
  return async () => {
    await reconciler.stop();
    await relay.stop();
    await peers.close();
    await bus.close();
    await tracer.close();
    store.close();
  };
}).catch(fatal('orders'));
