// The environments' table: each environment's body, with the columns its list filters on.
import type { Migration } from '../shared/migrations.ts';

export const environmentMigrations: Migration[] = [
  {
    // IF NOT EXISTS: a database created before migrations were recorded already has this table.
    id: 'environments/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS environments (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          body TEXT NOT NULL
        );
      `);
    },
  },
];
