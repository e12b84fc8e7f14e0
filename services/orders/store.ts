import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openDatabase } from '../shared/db';
import type { OrderItem } from './validate';

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED';

export interface Order {
  id: string;
  user_id: string;
  items: OrderItem[];
  total: number;
  status: OrderStatus;
  payment_id: string | null;
  payment_version: string | null;
  reason: string | null;
  created_at: string;
  updated_at: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE,
  user_id TEXT NOT NULL,
  items TEXT NOT NULL,
  total_cents INTEGER NOT NULL,
  status TEXT NOT NULL,
  payment_id TEXT,
  payment_version TEXT,
  reason TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  lease_until INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq);
`;

interface OrderRow {
  id: string;
  user_id: string;
  items: string;
  total_cents: number;
  status: OrderStatus;
  payment_id: string | null;
  payment_version: string | null;
  reason: string | null;
  created_at: string;
  updated_at: string;
}

/** A confirmed order's `order.created` event (a new event id each call). */
export function orderCreated(order: Order): { event_id: string; type: 'order.created'; order_id: string; user_id: string; total: number; timestamp: string } {
  return { event_id: randomUUID(), type: 'order.created', order_id: order.id, user_id: order.user_id, total: order.total, timestamp: order.updated_at };
}

export interface OutboxRow {
  seq: number;
  event_id: string;
  topic: string;
  key: string;
  payload: string;
  /** W3C context of the request that confirmed the order (the event's span is its child), if it was traced. */
  traceparent: string | null;
}

/** Orders' own database: the orders and the transactional outbox of the events they emit. */
export class OrderStore {
  readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = openDatabase(dataDir, 'orders', SCHEMA);
    // Added with tracing of events: databases made before it get the column here.
    const cols = this.db.prepare('PRAGMA table_info(outbox)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'traceparent')) this.db.exec('ALTER TABLE outbox ADD COLUMN traceparent TEXT');
  }

  /** Stores a new order as PENDING and returns it with its id (`ORD-<n>`). */
  createPending(userId: string, items: OrderItem[], totalCents: number): Order {
    const now = new Date().toISOString();
    const tx = this.db.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO orders (user_id, items, total_cents, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(userId, JSON.stringify(items), totalCents, 'PENDING', now, now);
      const id = `ORD-${lastInsertRowid}`;
      this.db.prepare('UPDATE orders SET id = ? WHERE seq = ?').run(id, lastInsertRowid);
      return id;
    });
    return this.get(tx.immediate())!;
  }

  /**
   * Marks a PENDING order CONFIRMED and, in the same transaction, writes its `order.created` event
   * to the outbox: the order and its event exist together or not at all. `viaOutbox` false (a lab
   * control, for control arms) leaves the event out: the caller publishes it itself.
   */
  confirm(id: string, paymentId: string, paymentVersion: string, traceparent?: string, viaOutbox = true): Order {
    const now = new Date().toISOString();
    const tx = this.db.transaction(() => {
      const changed = this.db
        .prepare("UPDATE orders SET status = 'CONFIRMED', payment_id = ?, payment_version = ?, updated_at = ? WHERE id = ? AND status = 'PENDING'")
        .run(paymentId, paymentVersion, now, id).changes;
      if (changed === 0 || !viaOutbox) return;
      const payload = orderCreated(this.get(id)!);
      this.db.prepare('INSERT INTO outbox (event_id, topic, key, payload, created_at, traceparent) VALUES (?, ?, ?, ?, ?, ?)').run(payload.event_id, 'order.created', id, JSON.stringify(payload), now, traceparent ?? null);
    });
    tx.immediate();
    return this.get(id)!;
  }

  reject(id: string, reason: string): Order {
    this.db.prepare("UPDATE orders SET status = 'REJECTED', reason = ?, updated_at = ? WHERE id = ? AND status = 'PENDING'").run(reason, new Date().toISOString(), id);
    return this.get(id)!;
  }

  get(id: string): Order | undefined {
    const row = this.db.prepare('SELECT * FROM orders WHERE id = ?').get(id) as OrderRow | undefined;
    return row && toOrder(row);
  }

  list(filter: { status?: string; limit: number }): Order[] {
    const rows = (filter.status
      ? this.db.prepare('SELECT * FROM orders WHERE status = ? ORDER BY seq DESC LIMIT ?').all(filter.status, filter.limit)
      : this.db.prepare('SELECT * FROM orders ORDER BY seq DESC LIMIT ?').all(filter.limit)) as OrderRow[];
    return rows.map(toOrder);
  }

  /**
   * PENDING orders last touched before `beforeIso`, least recently touched first (the reconciler's
   * work list). An order whose charge failed again is touched (`touchPending`), so it goes to the
   * back of the queue: orders that keep failing cannot fill every batch ahead of the others.
   */
  pendingBefore(beforeIso: string, limit: number): Order[] {
    return (this.db.prepare("SELECT * FROM orders WHERE status = 'PENDING' AND updated_at < ? ORDER BY updated_at, seq LIMIT ?").all(beforeIso, limit) as OrderRow[]).map(toOrder);
  }

  /** Records that a PENDING order was tried and is still PENDING (moves it to the back of the reconciler's queue). */
  touchPending(id: string): void {
    this.db.prepare("UPDATE orders SET updated_at = ? WHERE id = ? AND status = 'PENDING'").run(new Date().toISOString(), id);
  }

  counts(): Record<string, number> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM orders GROUP BY status').all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Claims up to `limit` unsent outbox rows for `leaseMs` so concurrent relays (several orders instances) do not publish the same rows. */
  claimOutbox(limit: number, leaseMs: number): OutboxRow[] {
    const now = Date.now();
    const tx = this.db.transaction(() => {
      const rows = this.db
        .prepare('SELECT seq, event_id, topic, key, payload, traceparent FROM outbox WHERE sent_at IS NULL AND (lease_until IS NULL OR lease_until < ?) ORDER BY seq LIMIT ?')
        .all(now, limit) as OutboxRow[];
      const lease = this.db.prepare('UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE seq = ?');
      for (const r of rows) lease.run(now + leaseMs, r.seq);
      return rows;
    });
    return tx.immediate();
  }

  markSent(seqs: number[]): void {
    const now = new Date().toISOString();
    const stmt = this.db.prepare('UPDATE outbox SET sent_at = ?, lease_until = NULL WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => stmt.run(now, s))).immediate();
  }

  release(seqs: number[]): void {
    const stmt = this.db.prepare('UPDATE outbox SET lease_until = NULL WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => stmt.run(s))).immediate();
  }

  outboxBacklog(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

function toOrder(r: OrderRow): Order {
  return {
    id: r.id,
    user_id: r.user_id,
    items: JSON.parse(r.items) as OrderItem[],
    total: r.total_cents / 100,
    status: r.status,
    payment_id: r.payment_id,
    payment_version: r.payment_version,
    reason: r.reason,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}
