// The Directory's database: the organization's workspaces and their API keys (by digest), as numbered migrations
// (run by `migrate()` when the Directory starts). A released migration never changes; a change is a new one.
import { DEFAULT_DISPLAY_COLOR, DEFAULT_WORKSPACE_ID, type Workspace } from '../contract/workspace.ts';
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
  {
    id: 'directory/2-workspaces-and-key-objects',
    up(sql) {
      // A workspace is its response body; `n` orders lists, `archived_at` filters them. The default workspace is a
      // row like any other, so it is retrieved and listed the same way (its key, EDGEHARNESS_API_KEY, has none).
      sql.exec(`
        CREATE TABLE IF NOT EXISTS workspaces (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          body TEXT NOT NULL,
          archived_at TEXT
        );
      `);
      const now = new Date().toISOString();
      const fallback: Workspace = {
        type: 'workspace',
        id: DEFAULT_WORKSPACE_ID,
        name: 'Default',
        display_color: DEFAULT_DISPLAY_COLOR,
        tags: {},
        data_residency: { allowed_inference_geos: 'unrestricted', default_inference_geo: 'global', workspace_geo: 'us' },
        compartment_id: `cmpt_${DEFAULT_WORKSPACE_ID}`,
        external_key_id: null,
        user_profile_id: null,
        created_at: now,
        archived_at: null,
      };
      sql.exec(`INSERT OR IGNORE INTO workspaces (id, body) VALUES (?, ?)`, DEFAULT_WORKSPACE_ID, JSON.stringify(fallback));
      // A key becomes an API key object. Rows from before (no id) keep working and are not listed: nothing made them
      // through the API, so they have no name to show.
      sql.exec(`ALTER TABLE api_keys ADD COLUMN id TEXT`);
      sql.exec(`ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT ''`);
      sql.exec(`ALTER TABLE api_keys ADD COLUMN status TEXT NOT NULL DEFAULT 'active'`);
      sql.exec(`ALTER TABLE api_keys ADD COLUMN partial_key_hint TEXT`);
      sql.exec(`ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER`);
      sql.exec(`CREATE UNIQUE INDEX IF NOT EXISTS api_keys_by_id ON api_keys (id)`);
    },
  },
];
