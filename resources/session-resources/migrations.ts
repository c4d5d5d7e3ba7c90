// The session resources' table: each resource as responses show it (body, never a token), the session it belongs
// to, and a repository's authorization token only as the sealed columns (vault/crypto.ts).
import type { Migration } from '../shared/migrations.ts';

export const sessionResourceMigrations: Migration[] = [
  {
    id: 'session-resources/1-tables',
    up(sql) {
      sql.exec(`
        -- archived_at is always NULL (resources are deleted, not archived); the shared list filters read it.
        CREATE TABLE IF NOT EXISTS session_resources (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          session_id TEXT NOT NULL,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          body TEXT NOT NULL,
          key_id TEXT,
          iv TEXT,
          ciphertext TEXT
        );
        CREATE INDEX IF NOT EXISTS session_resources_by_session ON session_resources(session_id, n);
      `);
    },
  },
];
