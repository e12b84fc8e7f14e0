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
export async function checkInvariants(state: () => WorldState, settleMs = 15000, pendingBoundMs = PENDING_BOUND_MS): Promise<Expectation[]> {
  const healthyAt = Date.now();
  const pendingDeadline = healthyAt + pendingBoundMs;
  // An order the reconciler confirms late gets its event late too: the settle time counts from the last PENDING seen.
  let lastPendingAt = healthyAt;
  for (;;) {
    const s = state();
    const [orders, payments, notes] = await Promise.all([
      get<OrdersBody>(`${appUrl(s, 'orders')}/orders?limit=1000000`),
      get<PaymentsBody>(`${appUrl(s, 'payments')}/payments?limit=1000000`),
      get<NotificationsBody>(`${appUrl(s, 'notifications')}/notifications?limit=1000000`),
    ]);
    const confirmed = orders.orders.filter((o) => o.status === 'CONFIRMED').map((o) => o.id);
    const known = new Set(orders.orders.map((o) => o.id));
    const charges = new Map(payments.charges_per_order.map((c) => [c.order_id, c.charges]));
    const notified = new Map<string, number>();
    for (const n of notes.notifications) notified.set(n.order_id, (notified.get(n.order_id) ?? 0) + 1);

    const notCharged = confirmed.filter((id) => charges.get(id) !== 1);
    const doubleCharged = [...charges].filter(([, n]) => n > 1).map(([id]) => id);
    const orphanCharges = [...charges.keys()].filter((id) => !known.has(id));
    const notNotified = confirmed.filter((id) => notified.get(id) !== 1);
    const confirmedSet = new Set(confirmed);
    const strayNotes = [...notified.keys()].filter((id) => !confirmedSet.has(id));
    const pending = orders.orders.filter((o) => o.status === 'PENDING').map((o) => o.id);
    if (pending.length > 0) lastPendingAt = Math.min(Date.now(), pendingDeadline);
    const settled = notNotified.length === 0 || Date.now() > lastPendingAt + settleMs;
    if ((settled && pending.length === 0) || (settled && Date.now() > pendingDeadline)) {
      const list = (ids: string[]): string => (ids.length === 0 ? '0' : `${ids.length}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ' …' : ''}`);
      return [
        { name: 'invariant: every confirmed order charged exactly once', expected: `0 of ${confirmed.length} violate`, measured: list([...notCharged, ...doubleCharged.filter((id) => !notCharged.includes(id))]), pass: notCharged.length === 0 && doubleCharged.length === 0 },
        { name: 'invariant: every confirmed order notified exactly once', expected: `0 of ${confirmed.length} violate`, measured: list(notNotified), pass: notNotified.length === 0 },
        { name: 'invariant: no charge or notification without an order', expected: '0', measured: list([...orphanCharges, ...strayNotes]), pass: orphanCharges.length === 0 && strayNotes.length === 0 },
        { name: `invariant: no order still PENDING ${pendingBoundMs / 1000} s after the world is healthy`, expected: '0', measured: pending.length === 0 ? `0 (all reconciled after ${((Date.now() - healthyAt) / 1000).toFixed(1)} s)` : list(pending), pass: pending.length === 0 },
      ];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
