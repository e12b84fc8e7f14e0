import type Database from 'better-sqlite3';
import { openDatabase } from '../shared/db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS payments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE,
  idempotency_key TEXT NOT NULL UNIQUE,
  order_id TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  status TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  response TEXT NOT NULL,
  version TEXT NOT NULL,
  instance TEXT NOT NULL,
  replays INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
`;

export interface StoredPayment {
  id: string;
  idempotency_key: string;
  order_id: string;
  amount_cents: number;
  status: 'charged' | 'declined';
  http_status: number;
  response: string;
  version: string;
  instance: string;
  replays: number;
  created_at: string;
}

export type ChargeOutcome =
  | { kind: 'new'; payment: StoredPayment }
  | { kind: 'replay'; payment: StoredPayment }
  | { kind: 'conflict'; payment: StoredPayment };

/** Payments' own database. The idempotency key is UNIQUE, so two instances racing on one key still charge once. */
export class PaymentStore {
  readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = openDatabase(dataDir, 'payments', SCHEMA);
  }

  /**
   * Charges once per idempotency key: in one write transaction, returns the stored result for a key
   * already seen (or a conflict if its request differs), else records the new result `decide` gives.
   */
  chargeOnce(key: string, orderId: string, amountCents: number, decide: (seq: number) => Omit<StoredPayment, 'replays' | 'created_at' | 'idempotency_key' | 'order_id' | 'amount_cents'>): ChargeOutcome {
    const tx = this.db.transaction((): ChargeOutcome => {
      const existing = this.db.prepare('SELECT * FROM payments WHERE idempotency_key = ?').get(key) as StoredPayment | undefined;
      if (existing) {
        if (existing.order_id !== orderId || existing.amount_cents !== amountCents) return { kind: 'conflict', payment: existing };
        this.db.prepare('UPDATE payments SET replays = replays + 1 WHERE seq = (SELECT seq FROM payments WHERE idempotency_key = ?)').run(key);
        return { kind: 'replay', payment: existing };
      }
      const next = ((this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM payments').get() as { n: number }).n);
      const d = decide(next);
      const payment: StoredPayment = { ...d, idempotency_key: key, order_id: orderId, amount_cents: amountCents, replays: 0, created_at: new Date().toISOString() };
      this.db
        .prepare('INSERT INTO payments (id, idempotency_key, order_id, amount_cents, status, http_status, response, version, instance, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(payment.id, key, orderId, amountCents, payment.status, payment.http_status, payment.response, payment.version, payment.instance, payment.created_at);
      return { kind: 'new', payment };
    });
    return tx.immediate();
  }

  list(limit: number): StoredPayment[] {
    return this.db.prepare('SELECT * FROM payments ORDER BY seq DESC LIMIT ?').all(limit) as StoredPayment[];
  }

  /** Charges per order id: the invariant check's view (an order charged twice shows count 2). */
  chargesPerOrder(): { order_id: string; charges: number }[] {
    return this.db.prepare("SELECT order_id, COUNT(*) AS charges FROM payments WHERE status = 'charged' GROUP BY order_id").all() as { order_id: string; charges: number }[];
  }

  close(): void {
    this.db.close();
  }
}
