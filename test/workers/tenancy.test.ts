// Tenancy: a key of another workspace sees none of this workspace's objects (404, never listed); the Directory
// that maps keys to workspaces keeps them across its schema's migrations.
import { env, runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIRECTORY_MIGRATIONS } from '../../durable-objects/directory-schema.ts';
import { migrate } from '../../resources/shared/migrations.ts';
import { call, makeSession, registerKey, say, settle } from './api.ts';

const OTHER_KEY = 'test-key-second-workspace';

describe('workspace scoping', () => {
  let ids: { agentId: string; environmentId: string; sessionId: string };

  beforeAll(async () => {
    await registerKey(OTHER_KEY, 'wrkspc_second');
    ids = await makeSession();
    await say(ids.sessionId, 'private conversation');
    await settle(ids.sessionId);
  });

  it('answers 404 for another workspace’s agent, environment and session', async () => {
    for (const path of [
      `/v1/agents/${ids.agentId}`,
      `/v1/agents/${ids.agentId}/versions`,
      `/v1/environments/${ids.environmentId}`,
      `/v1/sessions/${ids.sessionId}`,
      `/v1/sessions/${ids.sessionId}/events`,
      `/v1/sessions/${ids.sessionId}/events/stream`,
    ]) {
      const r = await call('GET', path, undefined, OTHER_KEY);
      expect(r.status, path).toBe(404);
      expect(r.body.error.type).toBe('not_found_error');
    }
    const send = await call('POST', `/v1/sessions/${ids.sessionId}/events`, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] }, OTHER_KEY);
    expect(send.status).toBe(404);
    const update = await call('POST', `/v1/agents/${ids.agentId}`, { name: 'hijacked' }, OTHER_KEY);
    expect(update.status).toBe(404);
    const del = await call('DELETE', `/v1/sessions/${ids.sessionId}`, undefined, OTHER_KEY);
    expect(del.status).toBe(404);
    const session = await call('POST', '/v1/sessions', { agent: ids.agentId, environment_id: ids.environmentId }, OTHER_KEY);
    expect(session.status).toBe(404);
  });

  it('never lists another workspace’s objects', async () => {
    for (const path of ['/v1/agents', '/v1/environments', '/v1/sessions']) {
      const theirs = await call('GET', `${path}?limit=100`, undefined, OTHER_KEY);
      expect(theirs.status).toBe(200);
      expect(theirs.body.data).toEqual([]);
      const ours = await call('GET', `${path}?limit=100`);
      expect(ours.body.data.length).toBeGreaterThan(0);
    }
  });

  it('lets the second workspace work with its own objects', async () => {
    const mine = await makeSession(OTHER_KEY);
    expect((await call('GET', `/v1/sessions/${mine.sessionId}`, undefined, OTHER_KEY)).status).toBe(200);
    expect((await call('GET', `/v1/sessions/${mine.sessionId}`)).status).toBe(404);
  });

  it('refuses an anthropic-workspace-id header naming another workspace', async () => {
    const r = await call('GET', '/v1/agents', undefined, OTHER_KEY, { 'anthropic-workspace-id': 'wrkspc_default' });
    expect(r.status).toBe(403);
    expect(r.body.error.type).toBe('permission_error');
  });
});

describe('the directory', () => {
  it('keeps the keys of a Directory made before its table was a recorded migration', async () => {
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName('directory-before-migrations'));
    await runInDurableObject(directory, async (obj, state) => {
      const sql = state.storage.sql;
      // The table as the Directory's constructor created it then, with a key in it, and no record of migrations.
      sql.exec(`DROP TABLE api_keys; DROP TABLE _migrations`);
      sql.exec(`CREATE TABLE api_keys (key_sha256 TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, created_at TEXT NOT NULL)`);
      sql.exec(`INSERT INTO api_keys VALUES ('digest-of-an-old-key', 'wrkspc_old', '2026-01-01T00:00:00.000Z')`);
      migrate(state.storage, DIRECTORY_MIGRATIONS);
      expect(sql.exec<{ id: string }>(`SELECT id FROM _migrations`).toArray().map((r) => r.id)).toEqual(DIRECTORY_MIGRATIONS.map((m) => m.id));
      expect(await obj.workspaceForKey('digest-of-an-old-key')).toBe('wrkspc_old');
    });
  });
});
