// The skills' tables: one row per skill (its body, the newest version's id) and one per version (its body and the
// list of its files, whose bytes are in R2). Versions are immutable; a new upload is a new version.
import type { Migration } from '../shared/migrations.ts';

export const skillMigrations: Migration[] = [
  {
    id: 'skills/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS skills (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS skill_versions (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          skill_id TEXT NOT NULL,
          version TEXT NOT NULL,
          body TEXT NOT NULL,
          files TEXT NOT NULL,
          UNIQUE (skill_id, version)
        );
      `);
    },
  },
];
