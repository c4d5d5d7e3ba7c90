// The Directory's database: its one table, API keys by digest, as numbered migrations (run by `migrate()` when the
// Directory starts). A released migration never changes; a change is a new one.
import type { Migration } from '../resources/shared/migrations.ts';

export const DIRECTORY_MIGRATIONS: readonly Migration[] = [
  {
    id: 'directory/1-tables',
    up(sql) {
      // `IF NOT EXISTS`: a Directory created before migrations were recorded adopts this one unchanged.
      sql.exec(`
        CREATE TABLE IF NOT EXISTS api_keys (
          key_sha256 TEXT PRIMARY KEY,
          workspace_id TEXT NOT NULL,
          created_at TEXT NOT NULL
        );
      `);
    },
  },
];
