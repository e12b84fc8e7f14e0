import { processAlive, type WorldState } from '../../world/state';
import type { Expectation } from './report';

interface OrdersBody {
  orders: { id: string; status: string }[];
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
 * Nothing lost, nothing doubled: reconciles the three services' own databases (read from the apps
 * directly, not through the mesh). Waits up to `settleMs` for events still in flight to be
 * delivered before judging.
 */
export async function checkInvariants(state: () => WorldState, settleMs = 15000): Promise<Expectation[]> {
  const deadline = Date.now() + settleMs;
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
    const settled = notNotified.length === 0;
    if (settled || Date.now() > deadline) {
      const list = (ids: string[]): string => (ids.length === 0 ? '0' : `${ids.length}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ' …' : ''}`);
      return [
        { name: 'invariant: every confirmed order charged exactly once', expected: `0 of ${confirmed.length} violate`, measured: list([...notCharged, ...doubleCharged.filter((id) => !notCharged.includes(id))]), pass: notCharged.length === 0 && doubleCharged.length === 0 },
        { name: 'invariant: every confirmed order notified exactly once', expected: `0 of ${confirmed.length} violate`, measured: list(notNotified), pass: notNotified.length === 0 },
        { name: 'invariant: no charge or notification without an order', expected: '0', measured: list([...orphanCharges, ...strayNotes]), pass: orphanCharges.length === 0 && strayNotes.length === 0 },
      ];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
