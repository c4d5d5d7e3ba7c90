// The agents' tables: one head row per agent (its current version, archive state and list position) and every
// version's body, immutable once written.
import type { Migration } from '../../durable-objects/migrations.ts';

export const agentMigrations: Migration[] = [
  {
    // IF NOT EXISTS: a database created before migrations were recorded already has these tables.
    id: 'agents/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS agents (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          version INTEGER NOT NULL,
          created_at TEXT NOT NULL,
          archived_at TEXT
        );
        CREATE TABLE IF NOT EXISTS agent_versions (
          agent_id TEXT NOT NULL,
          version INTEGER NOT NULL,
          body TEXT NOT NULL,
          PRIMARY KEY (agent_id, version)
        );
      `);
    },
  },
];
