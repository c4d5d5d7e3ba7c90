// The Idempotency-Key records: one row per key, and the chunks of answers too large for a row.
import type { Migration } from '../shared/migrations.ts';

export const idempotencyKeyMigrations: Migration[] = [
  {
    // IF NOT EXISTS: a database created before migrations were recorded already has these tables.
    id: 'idempotency-keys/1-tables',
    up(sql) {
      sql.exec(`
        -- token is set while an attempt is answering the key, status once it has answered. expires_at: when an
        -- attempt is presumed dead, or when its answer is forgotten.
        CREATE TABLE IF NOT EXISTS idempotency_keys (
          key TEXT PRIMARY KEY,
          method TEXT NOT NULL,
          path TEXT NOT NULL,
          body_sha256 TEXT NOT NULL,
          token TEXT,
          status INTEGER,
          headers TEXT,
          body BLOB,
          size INTEGER,
          chunks INTEGER NOT NULL DEFAULT 0,
          expires_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys(expires_at);
        CREATE TABLE IF NOT EXISTS idempotency_chunks (
          key TEXT NOT NULL,
          idx INTEGER NOT NULL,
          data BLOB NOT NULL,
          PRIMARY KEY (key, idx)
        );
      `);
    },
  },
];
