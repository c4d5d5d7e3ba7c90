// The deployments' tables: each deployment as its body (the response shape minus computed and write-only fields)
// beside the columns its lists filter on, its schedule's next fire and its webhook signing secret; and each run, at
// most one per (deployment, scheduled fire) and per (deployment, webhook delivery id), so neither a retried alarm nor
// a redelivered webhook starts a second run.
import type { Migration } from '../shared/migrations.ts';

export const deploymentMigrations: Migration[] = [
  {
    id: 'deployments/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS deployments (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          agent_id TEXT NOT NULL,
          status TEXT NOT NULL,
          -- the resources as sent, repository tokens included (the body echoes them without)
          resource_params TEXT NOT NULL,
          -- ms since the epoch of the schedule's next fire before jitter; NULL without a schedule
          next_fire_at INTEGER,
          webhook_secret TEXT,
          body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS deployment_runs (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          deployment_id TEXT NOT NULL,
          created_at TEXT NOT NULL,
          trigger_type TEXT NOT NULL,
          has_error INTEGER NOT NULL,
          scheduled_at TEXT,
          webhook_id TEXT,
          body TEXT NOT NULL,
          UNIQUE (deployment_id, scheduled_at),
          UNIQUE (deployment_id, webhook_id)
        );
        CREATE INDEX IF NOT EXISTS deployment_runs_by_deployment ON deployment_runs (deployment_id, n);
      `);
    },
  },
];
