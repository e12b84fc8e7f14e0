import { Gauge } from 'prom-client';
import { createBus } from '../../bus/create';
import { subscribeWhenReachable } from '../../bus/subscribe-when-reachable';
import { fatal, runService } from '../shared/runtime';
import { orderCreatedHandler } from './consumer';
import { NotificationStore } from './store';
import { MessagingTracer } from '../shared/tracing';
import { MailOutbox } from './mail-outbox';
import { Peers } from '../shared/peer';

runService(async ({ ctx, app, metrics, lab }) => {
  const store = new NotificationStore(ctx.dataDir);
  // Confirmation mail to an external provider, known by name only (MAIL_PROVIDER_HOST, given when the world runs one).
  const mailProvider = process.env.MAIL_PROVIDER_HOST;
  const peers = mailProvider ? new Peers(ctx.outboundUrl) : undefined;
  const mail = mailProvider && peers ? new MailOutbox(store.db, peers, mailProvider) : undefined;
  if (mail) {
    store.onSent = (eventId, orderId, message) => mail.queue(eventId, orderId, message);
    mail.start();
  }
  const bus = createBus({ kind: ctx.bus.kind, url: ctx.bus.url, clientId: ctx.instance });
  const tracer = new MessagingTracer({ service: ctx.name, version: ctx.version, instance: ctx.instance, bus: ctx.bus.kind });
  // A broker behind a sidecar that is not up yet (the compose pod) is retried, not fatal.
  const subscription = await subscribeWhenReachable(bus, 'order.created', 'notifications', orderCreatedHandler(store, lab, tracer), {
    onRetry: (err, n) => console.error(`notifications: subscribing to order.created failed (attempt ${n}): ${err.message}; retrying in 1 s`),
  });
  new Gauge({
    name: 'meshlab_consumer_lag',
    help: 'order.created messages not yet consumed by the notifications group (broker-side lag).',
    labelNames: ['topic', 'group'],
    registers: [metrics],
    async collect() {
      // A broker that is down has no lag to report: keep the last value rather than fail the scrape.
      const lag = await bus.consumerLag('order.created', 'notifications').catch(() => undefined);
      if (lag !== undefined) this.set({ topic: 'order.created', group: 'notifications' }, lag);
    },
  });

  app.get('/notifications', async (req, reply) => {
    const q = req.query as { limit?: string; order_id?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) return reply.code(400).send({ error: `limit must be an integer from 1 to 1000000, got "${q.limit}"` });
    return { notifications: store.list(limit, q.order_id), ...store.stats() };
  });
  // Every notification sent, counted per order (the invariant check counts duplicate side effects here).
  app.get('/notifications/sent', async () => ({ sent_per_order: store.sentPerOrder(), ...store.stats() }));
  // The confirmation mails: queued, sent (the provider answered 2xx), pending, attempts.
  app.get('/notifications/mail', async () => (mail ? { provider: mailProvider, ...mail.stats() } : { provider: null, queued: 0, sent: 0, pending: 0, attempts: 0 }));

  return async () => {
    mail?.stop();
    await peers?.close();
    await subscription.close();
    await bus.close();
    await tracer.close();
    store.close();
  };
}).catch(fatal('notifications'));
