import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * A service's own SQLite database: one file per service (`<dataDir>/<service>.db`), shared by that
 * service's instances the way a service's replicas share its database, and by no other service.
 * WAL mode lets instances read while one writes; writes are serialized by SQLite's lock, which is
 * what makes `INSERT … ON CONFLICT` idempotency hold across instances.
 */
export function openDatabase(dataDir: string, service: string, schema: string): Database.Database {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, `${service}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
