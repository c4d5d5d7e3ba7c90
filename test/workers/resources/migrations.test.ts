// A workspace's database records every resource's migrations once, and a database made before migrations were
// recorded (the tables already there, no `_migrations`) adopts them with its rows intact.
import { describe, expect, it } from 'vitest';
import { WORKSPACE_MIGRATIONS } from '../../../durable-objects/workspace-store.ts';
import { migrate } from '../../../resources/shared/migrations.ts';
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

function legacyAgent(id: string, model: Record<string, unknown>) {
  const at = new Date().toISOString();
  return {
    type: 'agent', id, version: 1, name: 'legacy', description: null, model, system: null, tools: [], mcp_servers: [], skills: [],
    execution_identity: { type: 'service_account' }, multiagent: null, metadata: {}, created_at: at, updated_at: at, archived_at: null,
  };
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
      // An agent, and a session embedding it, as the store wrote them before models carried speed and effort.
      const legacy = legacyAgent('agent_legacy', { id: 'claude-sonnet-5-5', inference_geo: 'eu' });
      sql.exec(`INSERT INTO agents (id, version, created_at) VALUES (?, 1, ?)`, legacy.id, legacy.created_at);
      sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, 1, ?)`, legacy.id, JSON.stringify(legacy));
      const legacySession = { ...session, id: 'sesn_legacy', agent: { ...session.agent, model: { id: 'claude-sonnet-5-5' } } };
      sql.exec(
        `INSERT INTO sessions (id, created_at, agent_id, agent_version, status, body) VALUES (?, ?, ?, 1, 'idle', ?)`,
        legacySession.id,
        legacySession.created_at,
        agent.id,
        JSON.stringify(legacySession),
      );
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
      expect(value(after.agents.get(legacy.id)).model).toEqual({ id: 'claude-sonnet-5-5', effort: { type: 'high' }, inference_geo: 'eu', speed: 'standard' });
      expect(value(after.sessions.get(legacySession.id)).agent.model).toEqual({ id: 'claude-sonnet-5-5', effort: { type: 'high' }, speed: 'standard' });
    }));

  it('gives agents and sessions stored without speed and effort the defaults once, keeping what they had', () =>
    inWorkspace('migrations_model', (storage) => {
      const sql = storage.sql;
      const m = modules(storage);
      const env = value(m.environments.create({ name: 'e' }));
      const bodies: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
        ['agent_plain', { id: 'claude-opus-5-5' }, { id: 'claude-opus-5-5', effort: { type: 'high' }, speed: 'standard' }],
        ['agent_low', { id: 'claude-opus-5-5', effort: { type: 'low' } }, { id: 'claude-opus-5-5', effort: { type: 'low' }, speed: 'standard' }],
        ['agent_fast', { id: 'claude-opus-5-5', speed: 'fast' }, { id: 'claude-opus-5-5', effort: { type: 'high' }, speed: 'fast' }],
      ];
      for (const [id, model] of bodies) {
        const agent = legacyAgent(id, model);
        sql.exec(`INSERT INTO agents (id, version, created_at) VALUES (?, 1, ?)`, id, agent.created_at);
        sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, 1, ?)`, id, JSON.stringify(agent));
      }
      // A session of the plain agent, its snapshot as stored then.
      const session = value(m.sessions.create({ agent: 'agent_plain', environment_id: env.id }));
      expect(session.agent.model).toEqual({ id: 'claude-opus-5-5' });
      sql.exec(`DELETE FROM _migrations WHERE id IN ('agents/2-model-speed-and-effort', 'sessions/2-agent-model-speed-and-effort')`);

      migrate(storage, WORKSPACE_MIGRATIONS);

      for (const [id, , expected] of bodies) expect(value(m.agents.get(id)).model).toEqual(expected);
      expect(value(m.sessions.get(session.id)).agent.model).toEqual(bodies[0]![2]);
      // An update that restates the model finds nothing changed: the migrated version is what a save stores.
      expect(value(m.agents.update('agent_plain', { model: 'claude-opus-5-5' })).version).toBe(1);
    }));
});
