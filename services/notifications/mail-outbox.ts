/**
 * Confirmation mail through an external provider, with an outbox: sending a notification queues its mail in
 * the same transaction (notifications' own database), and a relay hands each queued mail to the provider by
 * name — `POST /v1/messages` with Host `<provider>` through the sidecar's outbound listener, the event id as
 * `Idempotency-Key` — and marks it sent only on a 2xx. A provider that is blocked, failing or slow costs a
 * retry later, never a lost or doubled mail (the provider dedupes a replayed key). No timeout, retry or TLS
 * here: those are the mesh's (a VirtualService and DestinationRule for the provider's ServiceEntry host).
 */
import type Database from 'better-sqlite3';
import type { Peers } from '../shared/peer';

export const MAIL_SCHEMA = `
CREATE TABLE IF NOT EXISTS mail_outbox (
  event_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,
  sent_at TEXT
);
CREATE INDEX IF NOT EXISTS mail_pending ON mail_outbox (sent_at, created_at);
`;

export interface MailStats {
  queued: number;
  sent: number;
  pending: number;
  attempts: number;
}

export class MailOutbox {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly db: Database.Database,
    private readonly peers: Peers,
    /** The provider's name, as the app knows it (the mesh resolves it). */
    private readonly provider: string,
    private readonly intervalMs = 200,
    private readonly batch = 8,
  ) {
    db.exec(MAIL_SCHEMA);
  }

  /** Queues the mail of a notification just sent (call inside the notification's transaction). */
  queue(eventId: string, orderId: string, message: string): void {
    this.db.prepare('INSERT INTO mail_outbox (event_id, order_id, message, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(eventId, orderId, message, new Date().toISOString());
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      void this.relay().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  /** One pass: up to `batch` pending mails, oldest first, sent side by side. */
  async relay(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const rows = this.db.prepare('SELECT event_id, order_id, message FROM mail_outbox WHERE sent_at IS NULL ORDER BY created_at LIMIT ?').all(this.batch) as { event_id: string; order_id: string; message: string }[];
      await Promise.all(rows.map((r) => this.send(r)));
    } finally {
      this.running = false;
    }
  }

  private async send(r: { event_id: string; order_id: string; message: string }): Promise<void> {
    let status = 0;
    try {
      const res = await this.peers.call(this.provider, 'POST', '/v1/messages', { body: { order_id: r.order_id, text: r.message }, headers: { 'idempotency-key': r.event_id } });
      status = res.status;
    } catch {
      status = 0;
    }
    if (this.stopped) return;
    const sent = status >= 200 && status < 300 ? new Date().toISOString() : null;
    this.db.prepare('UPDATE mail_outbox SET attempts = attempts + 1, last_status = ?, sent_at = COALESCE(sent_at, ?) WHERE event_id = ?').run(status, sent, r.event_id);
  }

  stats(): MailStats {
    const one = (sql: string): number => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      queued: one('SELECT COUNT(*) AS n FROM mail_outbox'),
      sent: one('SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at IS NOT NULL'),
      pending: one('SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at IS NULL'),
      attempts: one('SELECT COALESCE(SUM(attempts), 0) AS n FROM mail_outbox'),
    };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
