import { processAlive, type WorldState } from '../../world/state';
import type { Expectation } from './report';

interface OrdersBody {
  orders: { id: string; status: string; updated_at?: string }[];
}
interface PaymentsBody {
  payments: { order_id: string; status: string }[];
  charges_per_order: { order_id: string; charges: number }[];
}
interface NotificationsBody {
  notifications: { order_id: string }[];
}
interface SentBody {
  sent_per_order: { order_id: string; sent: number }[];
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} → ${res.status}`);
  return (await res.json()) as T;
}

function appUrl(state: WorldState, service: string): string {
  const inst = state.instances.find((i) => i.service === service && processAlive(i.app.pid));
  if (!inst) throw new Error(`no running ${service} instance to read its database from`);
  return `http://${state.host}:${inst.app.ports.http}`;
}


/**
 * Every notification sent, per order: notifications' log of side effects (duplicates visible), or —
 * from a notifications without that log (an older image) — its stored notifications, one per order.
 */
async function notificationsSent(base: string): Promise<{ order_id: string; sent: number }[]> {
  const res = await fetch(`${base}/notifications/sent`);
  if (res.ok) return ((await res.json()) as SentBody).sent_per_order;
  await res.arrayBuffer();
  const notes = await get<NotificationsBody>(`${base}/notifications?limit=1000000`);
  const per = new Map<string, number>();
  for (const n of notes.notifications) per.set(n.order_id, (per.get(n.order_id) ?? 0) + 1);
  return [...per].map(([order_id, sent]) => ({ order_id, sent }));
}

/**
 * How long an order may stay PENDING once the world is healthy again: the orders reconciler
 * (a pass every 2 s, for orders untouched for 5 s, 20 at a time) must have charged it by then.
 */
export const PENDING_BOUND_MS = 60_000;

/**
 * Nothing lost, nothing doubled, nothing stuck: reconciles the three services' own databases (read
 * from the apps directly, not through the mesh). Called once the world is healthy (every instance
 * healed); waits up to `settleMs` for events still in flight to be delivered, and up to
 * `pendingBoundMs` for PENDING orders to be reconciled, before judging.
 */
/** Side effects per order before a run: a duplicate an earlier run (a control arm) left is not this run's. */
export interface InvariantBaseline {
  charges: Map<string, number>;
  sent: Map<string, number>;
}

export async function invariantBaseline(state: () => WorldState): Promise<InvariantBaseline> {
  const s = state();
  const [payments, sent] = await Promise.all([get<PaymentsBody>(`${appUrl(s, 'payments')}/payments?limit=1000000`), notificationsSent(appUrl(s, 'notifications'))]);
  return { charges: new Map(payments.charges_per_order.map((c) => [c.order_id, c.charges])), sent: new Map(sent.map((n) => [n.order_id, n.sent])) };
}

export async function checkInvariants(state: () => WorldState, settleMs = 15000, pendingBoundMs = PENDING_BOUND_MS, baseline?: InvariantBaseline): Promise<Expectation[]> {
  // More than once = more than before this run, when the order already had more than one (a control arm's doing).
  const more = (now: number, before: number | undefined): boolean => now > Math.max(1, before ?? 0);
  const healthyAt = Date.now();
  const pendingDeadline = healthyAt + pendingBoundMs;
  // An order the reconciler confirms late gets its event late too: the settle time counts from the last PENDING seen.
  let lastPendingAt = healthyAt;
  for (;;) {
    const s = state();
    const [orders, payments, sent] = await Promise.all([
      get<OrdersBody>(`${appUrl(s, 'orders')}/orders?limit=1000000`),
      get<PaymentsBody>(`${appUrl(s, 'payments')}/payments?limit=1000000`),
      notificationsSent(appUrl(s, 'notifications')),
    ]);
    const confirmed = orders.orders.filter((o) => o.status === 'CONFIRMED').map((o) => o.id);
    const known = new Set(orders.orders.map((o) => o.id));
    const charges = new Map(payments.charges_per_order.map((c) => [c.order_id, c.charges]));
    const notified = new Map(sent.map((n) => [n.order_id, n.sent]));

    const notCharged = confirmed.filter((id) => (charges.get(id) ?? 0) < 1);
    const doubleCharged = [...charges].filter(([id, n]) => more(n, baseline?.charges.get(id))).map(([id]) => id);
    const orphanCharges = [...charges.keys()].filter((id) => !known.has(id));
    const notNotified = confirmed.filter((id) => (notified.get(id) ?? 0) < 1);
    const doubleNotified = confirmed.filter((id) => more(notified.get(id) ?? 0, baseline?.sent.get(id)));
    const confirmedSet = new Set(confirmed);
    const strayNotes = [...notified.keys()].filter((id) => !confirmedSet.has(id));
    const pending = orders.orders.filter((o) => o.status === 'PENDING').map((o) => o.id);
    if (pending.length > 0) lastPendingAt = Math.min(Date.now(), pendingDeadline);
    const settled = notNotified.length === 0 || Date.now() > lastPendingAt + settleMs;
    if ((settled && pending.length === 0) || (settled && Date.now() > pendingDeadline)) {
      const list = (ids: string[]): string => (ids.length === 0 ? '0' : `${ids.length}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ' …' : ''}`);
      return [
        { name: 'invariant: every confirmed order charged exactly once', expected: `0 of ${confirmed.length} violate`, measured: list([...notCharged, ...doubleCharged.filter((id) => !notCharged.includes(id))]), pass: notCharged.length === 0 && doubleCharged.length === 0 },
        { name: 'invariant: every confirmed order notified exactly once (notifications sent)', expected: `0 of ${confirmed.length} violate`, measured: notNotified.length + doubleNotified.length === 0 ? '0' : `${list(notNotified)} not notified, ${list(doubleNotified)} notified more than once`, pass: notNotified.length === 0 && doubleNotified.length === 0 },
        { name: 'invariant: no charge or notification without an order', expected: '0', measured: list([...orphanCharges, ...strayNotes]), pass: orphanCharges.length === 0 && strayNotes.length === 0 },
        { name: `invariant: no order still PENDING ${pendingBoundMs / 1000} s after the world is healthy`, expected: '0', measured: pending.length === 0 ? `0 (all reconciled after ${((Date.now() - healthyAt) / 1000).toFixed(1)} s)` : list(pending), pass: pending.length === 0 },
      ];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
