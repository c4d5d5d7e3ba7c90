// Workspaces and API keys through the official SDK's admin calls (`client.beta.organization.*`, admin key only):
// workspaces round-trip and page; keys are made by the create extension, shown once and never again; two workspaces
// made this way see nothing of each other; an inactive or archived key, or a key of an archived workspace, is a 401
// at once; bad input is a 400 naming the field; a key past its per-minute limit is a 429 with retry-after.
import Anthropic, { AuthenticationError, BadRequestError, NotFoundError, RateLimitError } from '@anthropic-ai/sdk';
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_MIGRATIONS } from '../../durable-objects/directory-schema.ts';
import { TokenBuckets } from '../../durable-objects/token-buckets.ts';
import { migrate } from '../../resources/shared/migrations.ts';
import { call, makeSession } from './api.ts';

const BASE = 'http://edgeharness.test';
const ADMIN = 'test-admin-key';
const sdk = (apiKey: string) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });
const admin = sdk(ADMIN);

/** A new key of `workspaceId`, through the create extension: the key object plus the key. */
async function newKey(workspaceId: string, extra: Record<string, unknown> = {}): Promise<{ id: string; key: string; [k: string]: unknown }> {
  const r = await call('POST', '/v1/organizations/api_keys', { name: 'k', workspace_id: workspaceId, ...extra }, ADMIN);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

describe('workspaces', () => {
  it('creates, retrieves, updates, lists and archives a workspace', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'Team A', tags: { team: 'a', tier: 'x' }, display_color: '#112233' });
    expect(ws).toMatchObject({
      type: 'workspace',
      name: 'Team A',
      display_color: '#112233',
      tags: { team: 'a', tier: 'x' },
      archived_at: null,
      external_key_id: null,
      user_profile_id: null,
      data_residency: { allowed_inference_geos: 'unrestricted', default_inference_geo: 'global', workspace_geo: 'us' },
    });
    expect(ws.id).toMatch(/^wrkspc_[0-9A-Za-z]{24}$/);
    expect(await admin.beta.organization.workspaces.retrieve(ws.id)).toEqual(ws);

    const updated = await admin.beta.organization.workspaces.update(ws.id, { name: 'Team Alpha', tags: { tier: null, region: 'eu' } });
    expect(updated).toMatchObject({ name: 'Team Alpha', tags: { team: 'a', region: 'eu' }, display_color: '#112233' });
    expect(await admin.beta.organization.workspaces.retrieve(ws.id)).toEqual(updated);

    const listed: string[] = [];
    for await (const w of admin.beta.organization.workspaces.list({ limit: 1 })) listed.push(w.id);
    expect(listed).toContain(ws.id);
    expect(listed).not.toContain('wrkspc_default');
    const withDefault = await admin.beta.organization.workspaces.list({ include_default: true, limit: 1000 });
    expect(withDefault.data.map((w) => w.id)).toContain('wrkspc_default');
    const onlyThis = await admin.beta.organization.workspaces.list({ ids: [ws.id] });
    expect(onlyThis.data).toEqual([updated]);
    expect(onlyThis).toMatchObject({ has_more: false, first_id: ws.id, last_id: ws.id });

    const archived = await admin.beta.organization.workspaces.archive(ws.id);
    expect(archived.archived_at).not.toBeNull();
    expect((await admin.beta.organization.workspaces.list({ limit: 1000 })).data.map((w) => w.id)).not.toContain(ws.id);
    expect((await admin.beta.organization.workspaces.list({ limit: 1000, include_archived: true })).data.map((w) => w.id)).toContain(ws.id);
    await expect(admin.beta.organization.workspaces.update(ws.id, { name: 'again' })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('pages with after_id and before_id in creation order', async () => {
    const made = [];
    for (const name of ['p1', 'p2', 'p3']) made.push(await admin.beta.organization.workspaces.create({ name }));
    const ids = made.map((w) => w.id);
    const first = await admin.beta.organization.workspaces.list({ ids, limit: 2 });
    expect(first.data.map((w) => w.id)).toEqual(ids.slice(0, 2));
    expect(first).toMatchObject({ has_more: true, first_id: ids[0], last_id: ids[1] });
    const next = await admin.beta.organization.workspaces.list({ ids, limit: 2, after_id: ids[1] });
    expect(next.data.map((w) => w.id)).toEqual([ids[2]]);
    expect(next.has_more).toBe(false);
    const back = await admin.beta.organization.workspaces.list({ ids, limit: 1, before_id: ids[2] });
    expect(back.data.map((w) => w.id)).toEqual([ids[1]]);
  });

  it('shows the default workspace, which cannot be archived', async () => {
    expect(await admin.beta.organization.workspaces.retrieve('wrkspc_default')).toMatchObject({ id: 'wrkspc_default', archived_at: null });
    const r = await call('POST', '/v1/organizations/workspaces/wrkspc_default/archive', undefined, ADMIN);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^workspace_id: /);
  });

  it('refuses bad input with a 400 naming the field, and an unknown workspace with a 404', async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/v1/organizations/workspaces', {}, /^name: /],
      ['POST', '/v1/organizations/workspaces', { name: 'x', display_color: 'red' }, /^display_color: /],
      ['POST', '/v1/organizations/workspaces', { name: 'x', tags: { anthropic_x: 'y' } }, /^tags/],
      ['POST', '/v1/organizations/workspaces', { name: 'x', external_key_id: 'k' }, /^external_key_id: /],
      ['POST', '/v1/organizations/workspaces', { name: 'x', data_residency: { allowed_inference_geos: ['us'], default_inference_geo: 'global' } }, /^data_residency\.default_inference_geo: /],
      ['POST', '/v1/organizations/workspaces', { name: 'x', color: '#000000' }, /unknown field 'color'/],
      ['GET', '/v1/organizations/workspaces?limit=0', undefined, /^limit: /],
      ['POST', '/v1/organizations/api_keys', { name: 'k' }, /^workspace_id: /],
      ['POST', '/v1/organizations/api_keys', { name: 'k', workspace_id: 'wrkspc_default', rate_limit_per_minute: 0 }, /^rate_limit_per_minute: /],
    ];
    const count = async () => (await admin.beta.organization.workspaces.list({ limit: 1000, include_archived: true })).data.length;
    const before = await count();
    for (const [method, path, body, message] of cases) {
      const r = await call(method, path, body, ADMIN);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
      expect(r.body.error.message).toMatch(message);
    }
    expect(await count()).toBe(before);

    await expect(admin.beta.organization.workspaces.retrieve('wrkspc_nope')).rejects.toBeInstanceOf(NotFoundError);
    const key = await call('POST', '/v1/organizations/api_keys', { name: 'k', workspace_id: 'wrkspc_nope' }, ADMIN);
    expect(key.status).toBe(404);
    expect(key.body.error.message).toMatch(/^workspace_id: no workspace 'wrkspc_nope'/);
  });
});

describe('API keys', () => {
  it('shows a new key once, keeps only its digest, and lists and updates its object', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'keys' });
    const created = await newKey(ws.id, { name: 'ci' });
    expect(created.key).toMatch(/^sk-eh-/);
    const { key, ...object } = created;
    expect(object).toMatchObject({ type: 'api_key', name: 'ci', status: 'active', scope: { type: 'workspace', workspace_id: ws.id }, created_by: null });
    expect(created.partial_key_hint).not.toEqual(key);
    const retrieved = await admin.beta.organization.apiKeys.retrieve(created.id);
    expect(retrieved).toEqual(object);

    const listed = await admin.beta.organization.apiKeys.list({ workspace_id: ws.id });
    expect(listed.data).toEqual([object]);
    expect(JSON.stringify(listed)).not.toContain(key);
    expect((await admin.beta.organization.apiKeys.list({ workspace_id: ws.id, status: 'inactive' })).data).toEqual([]);

    const renamed = await admin.beta.organization.apiKeys.update(created.id, { name: 'deploys' });
    expect(renamed).toMatchObject({ name: 'deploys', status: 'active' });
    expect(await admin.beta.organization.apiKeys.retrieve(created.id)).toEqual(renamed);
    await expect(admin.beta.organization.apiKeys.retrieve('apikey_nope')).rejects.toBeInstanceOf(NotFoundError);
    const bad = await call('POST', `/v1/organizations/api_keys/${created.id}`, { status: 'paused' }, ADMIN);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^status: /);
  });

  it('stops a key set inactive at once, and lets it back in when active again', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'inactive' });
    const k = await newKey(ws.id);
    expect((await sdk(k.key).beta.agents.list()).data).toEqual([]);
    await admin.beta.organization.apiKeys.update(k.id, { status: 'inactive' });
    const refused = sdk(k.key).beta.agents.list();
    await expect(refused).rejects.toBeInstanceOf(AuthenticationError);
    await expect(refused).rejects.toThrow(/inactive/);
    await admin.beta.organization.apiKeys.update(k.id, { status: 'active' });
    expect((await sdk(k.key).beta.agents.list()).data).toEqual([]);
  });

  it('stops an archived key for good, and every key of an archived workspace', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'archived' });
    const k1 = await newKey(ws.id);
    const k2 = await newKey(ws.id);
    await admin.beta.organization.apiKeys.update(k1.id, { status: 'archived' });
    await expect(sdk(k1.key).beta.agents.list()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(admin.beta.organization.apiKeys.update(k1.id, { status: 'active' })).rejects.toBeInstanceOf(BadRequestError);

    expect((await sdk(k2.key).beta.agents.list()).data).toEqual([]);
    await admin.beta.organization.workspaces.archive(ws.id);
    await expect(sdk(k2.key).beta.agents.list()).rejects.toBeInstanceOf(AuthenticationError);
    expect((await admin.beta.organization.apiKeys.retrieve(k2.id)).status).toBe('archived');
    const more = await call('POST', '/v1/organizations/api_keys', { name: 'late', workspace_id: ws.id }, ADMIN);
    expect(more.status).toBe(400);
    expect(more.body.error.message).toMatch(/^workspace_id: /);
  });

  it('never replays a create with the same Idempotency-Key, which would need the key kept in clear', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'idempotent' });
    const headers = { 'idempotency-key': 'same-create' };
    const first = await call('POST', '/v1/organizations/api_keys', { name: 'k', workspace_id: ws.id }, ADMIN, headers);
    const second = await call('POST', '/v1/organizations/api_keys', { name: 'k', workspace_id: ws.id }, ADMIN, headers);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.key).not.toBe(first.body.key);
  });

  it('keeps workspace keys off the admin routes', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'no-admin' });
    const k = await newKey(ws.id);
    const r = await call('GET', '/v1/organizations/api_keys', undefined, k.key);
    expect(r.status).toBe(403);
  });

  it('answers 429 rate_limit_error with retry-after once a key passes its per-minute limit', async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: 'limited' });
    const k = await newKey(ws.id, { rate_limit_per_minute: 2 });
    expect(k.rate_limit_per_minute).toBe(2);
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await call('GET', '/v1/agents', undefined, k.key));
    expect(replies.slice(0, 2).map((r) => r.status)).toEqual([200, 200]);
    const limited = replies[2]!;
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await expect(sdk(k.key).beta.agents.list()).rejects.toBeInstanceOf(RateLimitError);
    // Another key of the same workspace has its own bucket.
    const other = await newKey(ws.id);
    expect((await call('GET', '/v1/agents', undefined, other.key)).status).toBe(200);
  });
});

describe('two workspaces made with the admin calls', () => {
  it('see none of each other’s agents, environments, sessions, vaults, deployments, deployment runs or files', async () => {
    const a = await newKey((await admin.beta.organization.workspaces.create({ name: 'A' })).id);
    const b = await newKey((await admin.beta.organization.workspaces.create({ name: 'B' })).id);
    const ids = await makeSession(a.key);
    const vault = await sdk(a.key).beta.vaults.create({ display_name: 'secrets' });
    const file = await sdk(a.key).beta.files.upload({ file: new File([new TextEncoder().encode('private')], 'a.txt', { type: 'text/plain' }) });
    const deployment = await sdk(a.key).beta.deployments.create({
      agent: ids.agentId,
      environment_id: ids.environmentId,
      name: 'private',
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'hello' }] }],
    } as any);
    const run = await sdk(a.key).beta.deployments.run(deployment.id);

    for (const path of [
      `/v1/agents/${ids.agentId}`,
      `/v1/environments/${ids.environmentId}`,
      `/v1/sessions/${ids.sessionId}`,
      `/v1/vaults/${vault.id}`,
      `/v1/files/${file.id}`,
      `/v1/deployments/${deployment.id}`,
      `/v1/deployment_runs/${run.id}`,
    ]) {
      const theirs = await call('GET', path, undefined, b.key);
      expect(theirs.status, path).toBe(404);
      expect(theirs.body.error.type).toBe('not_found_error');
      expect((await call('GET', path, undefined, a.key)).status, path).toBe(200);
    }
    for (const path of ['/v1/agents', '/v1/environments', '/v1/sessions', '/v1/vaults', '/v1/files', '/v1/deployments', '/v1/deployment_runs']) {
      const theirs = await call('GET', `${path}?limit=100`, undefined, b.key);
      expect(theirs.status, path).toBe(200);
      expect(theirs.body.data, path).toEqual([]);
      expect((await call('GET', `${path}?limit=100`, undefined, a.key)).body.data.length, path).toBeGreaterThan(0);
    }
  });
});

describe('token buckets', () => {
  it('admits a minute’s worth at once, then one request per refill, saying when the next one is', () => {
    const buckets = new TokenBuckets();
    const t0 = 1_000_000;
    expect(buckets.take('k', 3, t0)).toEqual({ admitted: true });
    expect(buckets.take('k', 3, t0)).toEqual({ admitted: true });
    expect(buckets.take('k', 3, t0)).toEqual({ admitted: true });
    // 3 a minute: a token every 20 s.
    expect(buckets.take('k', 3, t0)).toEqual({ admitted: false, retryAfter: 20 });
    expect(buckets.take('k', 3, t0 + 15_000)).toEqual({ admitted: false, retryAfter: 5 });
    expect(buckets.take('k', 3, t0 + 20_000)).toEqual({ admitted: true });
    expect(buckets.take('other', 3, t0 + 20_000)).toEqual({ admitted: true });
    // A changed limit starts the key afresh at the new one.
    expect(buckets.take('k', 1, t0 + 20_000)).toEqual({ admitted: true });
    expect(buckets.take('k', 1, t0 + 20_000)).toEqual({ admitted: false, retryAfter: 60 });
  });
});

describe('the Directory’s migration to workspaces', () => {
  it('keeps a key stored before it working, gives the default workspace a row, and lists no nameless key', async () => {
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName('directory-at-migration-1'));
    await runInDurableObject(directory, async (obj, state) => {
      const sql = state.storage.sql;
      // Back to the Directory as migration 1 left it, holding one key.
      sql.exec(`DROP TABLE api_keys; DROP TABLE workspaces; DELETE FROM _migrations`);
      migrate(state.storage, DIRECTORY_MIGRATIONS.slice(0, 1));
      sql.exec(`INSERT INTO api_keys VALUES ('digest-of-an-old-key', 'wrkspc_old', '2026-01-01T00:00:00.000Z')`);
      migrate(state.storage, DIRECTORY_MIGRATIONS);
      expect(await obj.resolveKey('digest-of-an-old-key')).toEqual({ workspaceId: 'wrkspc_old', keyId: null, rateLimitPerMinute: null });
      const fallback = await obj.getWorkspace('wrkspc_default');
      expect(fallback.ok && fallback.value).toMatchObject({ id: 'wrkspc_default', type: 'workspace', archived_at: null });
      const keys = await obj.listApiKeys({ limit: 20 });
      expect(keys.ok && keys.value.data).toEqual([]);
    });
  });
});
