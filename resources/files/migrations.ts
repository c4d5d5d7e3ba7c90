// The files' table: each file's metadata as its body, with the columns its list filters on. The bytes are in R2.
import type { Migration } from '../shared/migrations.ts';

export const fileMigrations: Migration[] = [
  {
    id: 'files/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS files (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          scope_id TEXT,
          body TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS files_scope ON files (scope_id, n);
      `);
    },
  },
];
