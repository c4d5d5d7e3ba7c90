// A workspace's database records every resource's migrations once, and a database made before migrations were
// recorded (the tables already there, no `_migrations`) adopts them with its rows intact.
import { describe, expect, it } from 'vitest';
import { WORKSPACE_MIGRATIONS } from '../../../durable-objects/workspace-store.ts';
import { migrate } from '../../../durable-objects/migrations.ts';
import { IdempotencyKeys } from '../../../resources/idempotency-keys/idempotency-keys.ts';
import { inWorkspace, modules, value } from './workspace.ts';

/** The workspace's schema as the store created it before migrations were recorded. */
const SCHEMA_BEFORE_MIGRATIONS = `
  CREATE TABLE agents (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, created_at TEXT NOT NULL, archived_at TEXT);
  CREATE TABLE agent_versions (agent_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (agent_id, version));
  CREATE TABLE environments (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, archived_at TEXT, body TEXT NOT NULL);
  CREATE TABLE sessions (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, archived_at TEXT, agent_id TEXT NOT NULL, agent_version INTEGER NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX sessions_by_agent ON sessions(agent_id, agent_version);
  CREATE TABLE vaults (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, archived_at TEXT, body TEXT NOT NULL);
  CREATE TABLE vault_credentials (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, vault_id TEXT NOT NULL, created_at TEXT NOT NULL, archived_at TEXT, auth_type TEXT NOT NULL, unique_key TEXT NOT NULL, body TEXT NOT NULL, key_id TEXT, iv TEXT, ciphertext TEXT);
  CREATE INDEX vault_credentials_by_vault ON vault_credentials(vault_id, n);
  CREATE TABLE idempotency_keys (key TEXT PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, body_sha256 TEXT NOT NULL, token TEXT, status INTEGER, headers TEXT, body BLOB, size INTEGER, chunks INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL);
  CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys(expires_at);
  CREATE TABLE idempotency_chunks (key TEXT NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (key, idx));
`;

const TABLES = ['agents', 'agent_versions', 'environments', 'sessions', 'vaults', 'vault_credentials', 'idempotency_keys', 'idempotency_chunks'];

function recorded(sql: SqlStorage): string[] {
  return sql.exec<{ id: string }>(`SELECT id FROM _migrations ORDER BY rowid`).toArray().map((r) => r.id);
}

/** Turns the database back into one made before migrations: the old schema, no record of any migration. */
function rewindToBeforeMigrations(sql: SqlStorage): void {
  for (const table of [...TABLES, '_migrations']) sql.exec(`DROP TABLE IF EXISTS ${table}`);
  sql.exec(SCHEMA_BEFORE_MIGRATIONS);
}

describe('workspace migrations', () => {
  it('records each resource’s migrations once, in order, and applies none twice', () =>
    inWorkspace('migrations_recorded', (storage) => {
      const ids = WORKSPACE_MIGRATIONS.map((m) => m.id);
      expect(recorded(storage.sql)).toEqual(ids);
      for (const owner of ['agents', 'environments', 'vaults', 'sessions', 'idempotency-keys']) expect(ids).toContain(`${owner}/1-tables`);
      migrate(storage, WORKSPACE_MIGRATIONS);
      expect(recorded(storage.sql)).toEqual(ids);
    }));

  it('adopts a database created before migrations were recorded, keeping its rows', () =>
    inWorkspace('migrations_adopt', async (storage) => {
      const sql = storage.sql;
      rewindToBeforeMigrations(sql);
      // Rows as the store wrote them then, through today's modules, whose queries the old tables answer.
      const before = modules(storage, 'wrkspc_resources_migrations_adopt');
      const agent = value(before.agents.create({ name: 'kept', model: 'claude-sonnet-5-5' }));
      const env = value(before.environments.create({ name: 'kept' }));
      const vault = value(before.vaults.create({ display_name: 'kept' }));
      const credential = value(
        await before.credentials.create(vault.id, { auth: { type: 'environment_variable', secret_name: 'TOKEN', secret_value: 'kept', networking: { type: 'unrestricted' } } }),
      );
      const session = value(before.sessions.create({ agent: agent.id, environment_id: env.id }));
      const keys = new IdempotencyKeys(storage);
      const request = { method: 'POST', path: '/v1/agents', bodySha256: 'a'.repeat(64) };
      expect(keys.claim('k', request, Date.now()).kind).toBe('claimed');
      expect(sql.exec(`SELECT name FROM sqlite_master WHERE name = '_migrations'`).toArray()).toEqual([]);

      migrate(storage, WORKSPACE_MIGRATIONS);

      expect(recorded(sql)).toEqual(WORKSPACE_MIGRATIONS.map((m) => m.id));
      const after = modules(storage, 'wrkspc_resources_migrations_adopt');
      expect(value(after.agents.get(agent.id)).name).toBe('kept');
      expect(value(after.environments.get(env.id))).toEqual(env);
      expect(value(after.vaults.get(vault.id))).toEqual(vault);
      expect(value(after.credentials.get(vault.id, credential.id))).toEqual(credential);
      expect((await after.credentials.forSession([vault.id])).map((c) => c.value)).toEqual(['kept']);
      expect(value(after.sessions.get(session.id)).id).toBe(session.id);
      expect(keys.claim('k', request, Date.now()).kind).toBe('in_flight');
    }));
});
