// Tenancy: a key of another workspace sees none of this workspace's objects (404, never listed).
import { env, runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../worker/api/auth.ts';
import { call, makeSession, say, settle } from './api.ts';

const OTHER_KEY = 'test-key-second-workspace';

describe('workspace scoping', () => {
  let ids: { agentId: string; environmentId: string; sessionId: string };

  beforeAll(async () => {
    // The admin API that creates workspaces comes later: register the second workspace's key in storage.
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName('directory'));
    const digest = await sha256Hex(OTHER_KEY);
    await runInDurableObject(directory, async (_obj, state) => {
      state.storage.sql.exec(`INSERT OR REPLACE INTO api_keys (key_sha256, workspace_id, created_at) VALUES (?, 'wrkspc_second', ?)`, digest, new Date().toISOString());
    });
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
