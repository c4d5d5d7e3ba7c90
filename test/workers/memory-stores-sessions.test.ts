// A memory store attached to a session (`resources[].type: memory_store`) through the official SDK: stored with the
// store's name and description as they were, mounted at /mnt/memory/<slug>, read_write unless asked otherwise,
// listed and retrieved through sessions.resources; an unknown, foreign or archived store is refused, and the session
// list filters by memory_store_id.
import Anthropic, { BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, KEY, makeSession, registerKey } from './api.ts';

const BASE = 'http://edgeharness.test';
const OTHER_KEY = 'test-key-memory-sessions-other';
const sdk = (apiKey = KEY) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });

beforeAll(() => registerKey(OTHER_KEY, 'wrkspc_memory_sessions_other'));

async function sessionWith(resources: unknown[], key = KEY) {
  const { agentId, environmentId } = await makeSession(key);
  return call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, resources }, key);
}

const sessionCount = async () => (await call('GET', '/v1/sessions?limit=100&include_archived=true')).body.data.length;

describe('memory_store session resources', () => {
  it('attaches stores at /mnt/memory/<slug>, read_write by default, with name and description as they were', async () => {
    const client = sdk();
    const prefs = await client.beta.memoryStores.create({ name: 'User Preferences', description: 'What the user likes' });
    const odd = await client.beta.memoryStores.create({ name: '  Q3 -- Plans!!  (draft)' });
    const { agentId, environmentId } = await makeSession();
    const session = await client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      resources: [
        { type: 'memory_store', memory_store_id: prefs.id, instructions: 'Read this before answering.' },
        { type: 'memory_store', memory_store_id: odd.id, access: 'read_only' },
      ],
    });
    expect(session.resources).toEqual([
      {
        type: 'memory_store',
        id: expect.stringMatching(/^sesrsc_/),
        memory_store_id: prefs.id,
        access: 'read_write',
        name: 'User Preferences',
        description: 'What the user likes',
        instructions: 'Read this before answering.',
        mount_path: '/mnt/memory/user-preferences',
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
      expect.objectContaining({ memory_store_id: odd.id, access: 'read_only', description: '', instructions: null, mount_path: '/mnt/memory/-q3-plans-draft-' }),
    ]);
    const listed = [];
    for await (const r of client.beta.sessions.resources.list(session.id, { limit: 1 })) listed.push(r);
    expect(listed).toHaveLength(2);
    expect(listed).toEqual(expect.arrayContaining(session.resources));
    const first = session.resources[0] as { id: string };
    expect(await client.beta.sessions.resources.retrieve(first.id, { session_id: session.id })).toEqual(session.resources[0]);

    // Snapshotted: a later rename changes neither the name nor the mount path of this session's resource.
    await client.beta.memoryStores.update(prefs.id, { name: 'Renamed', description: 'new' });
    expect(await client.beta.sessions.resources.retrieve(first.id, { session_id: session.id })).toMatchObject({
      name: 'User Preferences',
      description: 'What the user likes',
      mount_path: '/mnt/memory/user-preferences',
    });
    // A memory_store takes no token.
    await expect(client.beta.sessions.resources.update(first.id, { session_id: session.id, authorization_token: 'x' })).rejects.toBeInstanceOf(BadRequestError);

    // The session list finds sessions by the store they hold.
    const byStore = (await client.beta.sessions.list({ memory_store_id: odd.id })).data.map((s) => s.id);
    expect(byStore).toEqual([session.id]);
    expect((await client.beta.sessions.list({ memory_store_id: 'memstore_none' })).data).toEqual([]);

    expect(await client.beta.sessions.resources.delete(first.id, { session_id: session.id })).toEqual({ id: first.id, type: 'session_resource_deleted' });
    expect((await client.beta.sessions.retrieve(session.id)).resources).toHaveLength(1);
  });

  it('refuses an unknown, malformed, archived or foreign store, and creates no session', async () => {
    const client = sdk();
    const archived = await client.beta.memoryStores.create({ name: 'old' });
    await client.beta.memoryStores.archive(archived.id);
    const foreign = await sdk(OTHER_KEY).beta.memoryStores.create({ name: 'theirs' });
    const clashA = await client.beta.memoryStores.create({ name: 'Team Notes' });
    const clashB = await client.beta.memoryStores.create({ name: 'team-notes' });
    const cases: Array<[unknown[], number, RegExp]> = [
      [[{ type: 'memory_store', memory_store_id: 'memstore_unknown' }], 404, /^resources\[0\]\.memory_store_id: memory store 'memstore_unknown' not found/],
      [[{ type: 'memory_store', memory_store_id: foreign.id }], 404, /^resources\[0\]\.memory_store_id: memory store '.*' not found/],
      [[{ type: 'memory_store', memory_store_id: archived.id }], 400, /^resources\[0\]\.memory_store_id: .* is archived/],
      [[{ type: 'memory_store', memory_store_id: 42 }], 400, /^resources\[0\]\.memory_store_id: /],
      [[{ type: 'memory_store' }], 400, /^resources\[0\]\.memory_store_id: required field is missing/],
      [[{ type: 'memory_store', memory_store_id: clashA.id, access: 'write_only' }], 400, /^resources\[0\]\.access: /],
      [[{ type: 'memory_store', memory_store_id: clashA.id, instructions: 'i'.repeat(4097) }], 400, /^resources\[0\]\.instructions: at most 4096 characters/],
      [[{ type: 'memory_store', memory_store_id: clashA.id, mount_path: '/mnt/x' }], 400, /^resources\[0\]: unknown field 'mount_path'/],
      [
        [
          { type: 'memory_store', memory_store_id: clashA.id },
          { type: 'memory_store', memory_store_id: clashB.id },
        ],
        400,
        /^resources\[1\]\.mount_path: '\/mnt\/memory\/team-notes' is also the mount path of resources\[0\]/,
      ],
    ];
    for (const [resources, status, message] of cases) {
      const before = await sessionCount();
      const r = await sessionWith(resources);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.error.message).toMatch(message);
      // makeSession made one session; the refused create made none.
      expect(await sessionCount()).toBe(before + 1);
    }
    await expect(sdk(OTHER_KEY).beta.sessions.list({ memory_store_id: clashA.id })).resolves.toMatchObject({ data: [] });
  });

  it("keeps a session's resource when its store is deleted, and lists no memories for the deleted store", async () => {
    const client = sdk();
    const store = await client.beta.memoryStores.create({ name: 'gone soon' });
    const r = await sessionWith([{ type: 'memory_store', memory_store_id: store.id }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await client.beta.memoryStores.delete(store.id);
    await expect(client.beta.memoryStores.memories.list(store.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await client.beta.sessions.retrieve(r.body.id)).resources).toEqual(r.body.resources);
  });
});
