import type Database from 'better-sqlite3';
import { openDatabase } from '../shared/db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notifications (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  order_id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  total REAL NOT NULL,
  message TEXT NOT NULL,
  event_time TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consumed (
  event_id TEXT PRIMARY KEY,
  deliveries INTEGER NOT NULL DEFAULT 1
);
-- Every delivery received, redeliveries included (the bus delivers at least once).
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  delivery INTEGER NOT NULL,
  received_at TEXT NOT NULL
);
-- Every side effect performed: each notification actually sent. No UNIQUE here on purpose: a
-- duplicate side effect must be visible, not made impossible to store.
CREATE TABLE IF NOT EXISTS sent (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  message TEXT NOT NULL,
  sent_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sent_order ON sent (order_id);
`;

export interface Notification {
  event_id: string;
  order_id: string;
  user_id: string;
  total: number;
  message: string;
  event_time: string;
  created_at: string;
}

/**
 * Notifications' own database; `consumed` remembers every event id seen, which makes redeliveries
 * harmless. `deliveries` records every delivery received and `sent` every notification sent, so a
 * duplicate side effect (idempotency off) can be counted.
 */
export class NotificationStore {
  readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = openDatabase(dataDir, 'notifications', SCHEMA);
    // A database from before `sent` existed: each stored notification was sent once.
    const empty = (this.db.prepare('SELECT COUNT(*) AS n FROM sent').get() as { n: number }).n === 0;
    if (empty) this.db.prepare('INSERT INTO sent (event_id, order_id, message, sent_at) SELECT event_id, order_id, message, created_at FROM notifications ORDER BY seq').run();
  }

  /**
   * Records a delivery and, unless that event (or that order) was seen before, sends its notification
   * (the side effect) — all in one transaction. With `idempotent: false` (a lab control arm) every
   * delivery sends. Returns whether a notification was sent.
   */
  /** Called inside the transaction that sends a notification (the mail outbox queues its confirmation mail). */
  onSent?: (eventId: string, orderId: string, message: string) => void;

  record(n: Omit<Notification, 'created_at' | 'message'>, idempotent = true): boolean {
    const tx = this.db.transaction(() => {
      const now = new Date().toISOString();
      const before = this.db.prepare('SELECT deliveries FROM consumed WHERE event_id = ?').get(n.event_id) as { deliveries: number } | undefined;
      this.db.prepare('INSERT INTO consumed (event_id) VALUES (?) ON CONFLICT(event_id) DO UPDATE SET deliveries = deliveries + 1').run(n.event_id);
      this.db.prepare('INSERT INTO deliveries (event_id, order_id, delivery, received_at) VALUES (?, ?, ?, ?)').run(n.event_id, n.order_id, (before?.deliveries ?? 0) + 1, now);
      const message = `Order ${n.order_id} confirmed: ${n.total.toFixed(2)} charged to ${n.user_id}`;
      const inserted = this.db
        .prepare('INSERT INTO notifications (event_id, order_id, user_id, total, message, event_time, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(n.event_id, n.order_id, n.user_id, n.total, message, n.event_time, now);
      const send = idempotent ? !before && inserted.changes > 0 : true;
      if (send) this.db.prepare('INSERT INTO sent (event_id, order_id, message, sent_at) VALUES (?, ?, ?, ?)').run(n.event_id, n.order_id, message, now);
      if (send) this.onSent?.(n.event_id, n.order_id, message);
      return send;
    });
    return tx.immediate();
  }

  /** Notifications sent per order id: the invariant check's view (an order notified twice shows 2). */
  sentPerOrder(): { order_id: string; sent: number }[] {
    return this.db.prepare('SELECT order_id, COUNT(*) AS sent FROM sent GROUP BY order_id').all() as { order_id: string; sent: number }[];
  }

  list(limit: number, orderId?: string): Notification[] {
    return (orderId
      ? this.db.prepare('SELECT event_id, order_id, user_id, total, message, event_time, created_at FROM notifications WHERE order_id = ?').all(orderId)
      : this.db.prepare('SELECT event_id, order_id, user_id, total, message, event_time, created_at FROM notifications ORDER BY seq DESC LIMIT ?').all(limit)) as Notification[];
  }

  stats(): { count: number; redeliveries: number; deliveries: number; sent: number; duplicates_sent: number } {
    const one = (sql: string): number => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      count: one('SELECT COUNT(*) AS n FROM notifications'),
      redeliveries: one('SELECT COALESCE(SUM(deliveries - 1), 0) AS n FROM consumed'),
      deliveries: one('SELECT COUNT(*) AS n FROM deliveries'),
      sent: one('SELECT COUNT(*) AS n FROM sent'),
      duplicates_sent: one('SELECT COALESCE(SUM(c - 1), 0) AS n FROM (SELECT COUNT(*) AS c FROM sent GROUP BY order_id HAVING c > 1)'),
    };
  }

  close(): void {
    this.db.close();
  }
}
