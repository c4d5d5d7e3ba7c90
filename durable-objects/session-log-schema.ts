// The session log's database: its tables and the numbered migrations that brought older logs to the current shape
// (run by `migrate()` when the SessionLog starts). A released migration never changes; a change is a new one.
import type { Migration } from '../resources/shared/migrations.ts';
import type { SessionSpec } from '../contract/session-spec.ts';
import { emptyUsage } from '../contract/session.ts';
import { withModelDefaults } from '../resources/agents/migrations.ts';

export const SESSION_LOG_MIGRATIONS: readonly Migration[] = [
  {
    id: 'session-log/1-tables',
    up(sql) {
      // `IF NOT EXISTS`: logs created before migrations were recorded adopt this one unchanged.
      sql.exec(`
        CREATE TABLE IF NOT EXISTS events (
          seq INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          type TEXT NOT NULL,
          body TEXT,
          chunks INTEGER NOT NULL DEFAULT 0,
          size INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS events_by_type ON events(type, seq);
        CREATE TABLE IF NOT EXISTS event_refs (
          ref TEXT NOT NULL,
          type TEXT NOT NULL,
          seq INTEGER NOT NULL,
          PRIMARY KEY (ref, type, seq)
        );
        CREATE TABLE IF NOT EXISTS event_chunks (
          seq INTEGER NOT NULL,
          idx INTEGER NOT NULL,
          data BLOB NOT NULL,
          PRIMARY KEY (seq, idx)
        );
        CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      `);
    },
  },
  {
    id: 'session-log/2-session-spec',
    up(sql) {
      // The one state row becomes two: the session's spec (rarely written) and its run state (written on every
      // append). Fields that logs older than them lack get the values they were always read as.
      const row = sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'state'`).toArray()[0];
      if (!row) return;
      const old = JSON.parse(row.v) as Record<string, any>; // a row written by an older version: any shape it had
      const spec: SessionSpec = {
        sessionId: old.sessionId,
        workspaceId: old.workspaceId,
        agent: old.agent,
        environmentId: old.environmentId,
        networking: old.networking ?? { type: 'unrestricted' },
        vaultIds: old.vaultIds ?? [],
        budget: old.budget ?? null,
        limits: old.limits ?? {},
        compaction: old.compaction ?? {},
        createdAt: old.createdAt,
      };
      const run = {
        status: old.status ?? 'idle',
        epoch: old.epoch ?? 0,
        lease: old.lease ?? null,
        inputSeq: old.inputSeq ?? 0,
        consumedSeq: old.consumedSeq ?? 0,
        usage: old.usage ?? emptyUsage(),
        spentUsd: old.spentUsd ?? 0,
        wallDeadline: old.wallDeadline ?? null,
        wallFired: old.wallFired ?? false,
        activeMs: old.activeMs ?? 0,
        runningSince: old.runningSince ?? null,
      };
      sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('spec', ?)`, JSON.stringify(spec));
      sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('state', ?)`, JSON.stringify(run));
    },
  },
  {
    // The log's copy of the agent shows its model as the agent does, with `effort` and `speed`
    // (agents/2-model-speed-and-effort); a session created before agents carried them gets them here, once.
    id: 'session-log/3-agent-model-speed-and-effort',
    up(sql) {
      const row = sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'spec'`).toArray()[0];
      if (!row) return;
      const spec = JSON.parse(row.v) as SessionSpec;
      const next = JSON.stringify({ ...spec, agent: { ...spec.agent, model: withModelDefaults(spec.agent.model) } });
      if (next !== row.v) sql.exec(`UPDATE meta SET v = ? WHERE k = 'spec'`, next);
    },
  },
  {
    // Events carry their thread: NULL for the primary thread, the `sthr_` id of a sub-agent thread otherwise
    // (docs/threads.md). Every event of an older log is the primary thread's, which NULL already says.
    id: 'session-log/4-event-threads',
    up(sql) {
      sql.exec(`ALTER TABLE events ADD COLUMN thread TEXT`);
      sql.exec(`CREATE INDEX IF NOT EXISTS events_by_thread ON events(thread, seq)`);
    },
  },
];
