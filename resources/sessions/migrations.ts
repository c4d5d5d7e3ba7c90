// The session index: each session's body (agent snapshot, configuration, the status and usage its log reports),
// with the columns its list filters on. The session's events live in its own SessionLog, not here.
import type { Migration } from '../shared/migrations.ts';
import type { Session } from '../../contract/session.ts';
import { withModelDefaults } from '../agents/migrations.ts';
import { rewriteBodies } from '../shared/rows.ts';

export const sessionMigrations: Migration[] = [
  {
    // IF NOT EXISTS: a database created before migrations were recorded already has this table.
    id: 'sessions/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS sessions (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          agent_id TEXT NOT NULL,
          agent_version INTEGER NOT NULL,
          status TEXT NOT NULL,
          body TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions(agent_id, agent_version);
      `);
    },
  },
  {
    // The agent a session embeds shows its model as the agent does: with `effort` and `speed` (agents/2).
    id: 'sessions/2-agent-model-speed-and-effort',
    up(sql) {
      rewriteBodies<Session>(sql, 'sessions', ['id'], (session) => ({ ...session, agent: { ...session.agent, model: withModelDefaults(session.agent.model) } }));
    },
  },
];
