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

/** Notifications' own database; `consumed` remembers every event id seen, which makes redeliveries harmless. */
export class NotificationStore {
  readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = openDatabase(dataDir, 'notifications', SCHEMA);
  }

  /** Stores the notification for an event unless that event (or that order) was seen before. Returns whether it was new. */
  record(n: Omit<Notification, 'created_at' | 'message'>): boolean {
    const tx = this.db.transaction(() => {
      const seen = this.db.prepare('INSERT INTO consumed (event_id) VALUES (?) ON CONFLICT(event_id) DO UPDATE SET deliveries = deliveries + 1').run(n.event_id);
      const inserted = this.db
        .prepare('INSERT INTO notifications (event_id, order_id, user_id, total, message, event_time, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(n.event_id, n.order_id, n.user_id, n.total, `Order ${n.order_id} confirmed: ${n.total.toFixed(2)} charged to ${n.user_id}`, n.event_time, new Date().toISOString());
      return seen.changes > 0 && inserted.changes > 0;
    });
    return tx.immediate();
  }

  list(limit: number, orderId?: string): Notification[] {
    return (orderId
      ? this.db.prepare('SELECT event_id, order_id, user_id, total, message, event_time, created_at FROM notifications WHERE order_id = ?').all(orderId)
      : this.db.prepare('SELECT event_id, order_id, user_id, total, message, event_time, created_at FROM notifications ORDER BY seq DESC LIMIT ?').all(limit)) as Notification[];
  }

  stats(): { count: number; redeliveries: number } {
    const n = (this.db.prepare('SELECT COUNT(*) AS n FROM notifications').get() as { n: number }).n;
    const r = (this.db.prepare('SELECT COALESCE(SUM(deliveries - 1), 0) AS n FROM consumed').get() as { n: number }).n;
    return { count: n, redeliveries: r };
  }

  close(): void {
    this.db.close();
  }
}
