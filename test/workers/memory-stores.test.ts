// Memory stores through the official SDK: stores, memories and versions round-trip; every change is a version
// naming the API key; preconditions and path conflicts are the documented 409s; lists page by path with
// path_prefix and depth; redaction clears a version for good; bad input is a 4xx naming the field and stores
// nothing; another workspace's store or memory does not exist.
import Anthropic, { BadRequestError, ConflictError, NotFoundError } from '@anthropic-ai/sdk';
import { SELF } from 'cloudflare:test';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, KEY, registerKey } from './api.ts';

const BASE = 'http://edgeharness.test';
const OTHER_KEY = 'test-key-memory-other';
const sdk = (apiKey = KEY) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

beforeAll(() => registerKey(OTHER_KEY, 'wrkspc_memory_other'));

async function newStore(name = 'notes') {
  return sdk().beta.memoryStores.create({ name });
}

/** Every memory the store lists, page by page. */
async function allPaths(storeId: string, q: Record<string, string | number> = {}): Promise<string[]> {
  const out: string[] = [];
  let page: string | null = null;
  do {
    const qs: URLSearchParams = new URLSearchParams({ ...Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)])), ...(page ? { page } : {}) });
    const r: { status: number; body: any } = await call('GET', `/v1/memory_stores/${storeId}/memories?${qs}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    out.push(...r.body.data.map((m: { type: string; path: string }) => (m.type === 'memory_prefix' ? `prefix:${m.path}` : m.path)));
    page = r.body.next_page;
  } while (page);
  return out;
}

describe('memory stores', () => {
  it('creates, retrieves, updates, lists, archives and deletes a store', async () => {
    const client = sdk();
    const store = await client.beta.memoryStores.create({ name: 'User Preferences', description: 'What the user likes', metadata: { user: 'u1' } });
    expect(store).toMatchObject({ type: 'memory_store', name: 'User Preferences', description: 'What the user likes', metadata: { user: 'u1' }, archived_at: null });
    expect(store.id).toMatch(/^memstore_[0-9A-Za-z]{24}$/);
    expect(await client.beta.memoryStores.retrieve(store.id)).toEqual(store);
    const bare = await client.beta.memoryStores.create({ name: 'bare' });
    expect(bare.description).toBe('');
    expect(bare.metadata).toEqual({});

    const updated = await client.beta.memoryStores.update(store.id, { name: 'Prefs', description: '', metadata: { user: null, team: 't' } });
    expect(updated).toMatchObject({ name: 'Prefs', description: '', metadata: { team: 't' } });
    expect(await client.beta.memoryStores.retrieve(store.id)).toEqual(updated);

    const archived = await client.beta.memoryStores.archive(store.id);
    expect(archived.archived_at).not.toBeNull();
    const listed = await client.beta.memoryStores.list({ limit: 100 });
    expect(listed.data.map((s) => s.id)).not.toContain(store.id);
    expect((await client.beta.memoryStores.list({ limit: 100, include_archived: true })).data.map((s) => s.id)).toContain(store.id);
    await expect(client.beta.memoryStores.update(store.id, { name: 'again' })).rejects.toBeInstanceOf(BadRequestError);

    expect(await client.beta.memoryStores.delete(store.id)).toEqual({ id: store.id, type: 'memory_store_deleted' });
    await expect(client.beta.memoryStores.retrieve(store.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists stores with limit=1 page by page, newest first', async () => {
    const client = sdk();
    const made = [await newStore('p1'), await newStore('p2'), await newStore('p3')];
    const seen: string[] = [];
    for await (const s of client.beta.memoryStores.list({ limit: 1 })) seen.push(s.id);
    const mine = seen.filter((id) => made.some((m) => m.id === id));
    expect(mine).toEqual(made.map((m) => m.id).reverse());
  });
});

describe('memories', () => {
  it('round-trips a memory: create, retrieve, update, delete, each change one version by the API key', async () => {
    const client = sdk();
    const store = await newStore();
    const created = await client.beta.memoryStores.memories.create(store.id, { path: '/projects/foo/notes.md', content: 'héllo' });
    expect(created).toMatchObject({
      type: 'memory',
      memory_store_id: store.id,
      path: '/projects/foo/notes.md',
      content: null, // create answers with view=basic by default
      content_sha256: sha('héllo'),
      content_size_bytes: 6,
    });
    expect(created.id).toMatch(/^mem_/);
    expect(created.memory_version_id).toMatch(/^memver_/);
    const full = await client.beta.memoryStores.memories.retrieve(created.id, { memory_store_id: store.id });
    expect(full).toEqual({ ...created, content: 'héllo' });
    expect((await client.beta.memoryStores.memories.retrieve(created.id, { memory_store_id: store.id, view: 'basic' })).content).toBeNull();

    const renamed = await client.beta.memoryStores.memories.update(created.id, { memory_store_id: store.id, path: '/projects/foo/readme.md', view: 'full' });
    expect(renamed).toMatchObject({ id: created.id, path: '/projects/foo/readme.md', content: 'héllo' });
    expect(renamed.memory_version_id).not.toBe(created.memory_version_id);
    const edited = await client.beta.memoryStores.memories.update(created.id, { memory_store_id: store.id, content: 'bye' });
    expect(edited).toMatchObject({ content: null, content_sha256: sha('bye'), content_size_bytes: 3 });
    // Nothing changes: no new version.
    const same = await client.beta.memoryStores.memories.update(created.id, { memory_store_id: store.id, content: 'bye' });
    expect(same.memory_version_id).toBe(edited.memory_version_id);

    expect(await client.beta.memoryStores.memories.delete(created.id, { memory_store_id: store.id })).toEqual({ id: created.id, type: 'memory_deleted' });
    await expect(client.beta.memoryStores.memories.retrieve(created.id, { memory_store_id: store.id })).rejects.toBeInstanceOf(NotFoundError);

    const versions = (await client.beta.memoryStores.memoryVersions.list(store.id, { memory_id: created.id })).data;
    expect(versions.map((v) => v.operation)).toEqual(['deleted', 'modified', 'modified', 'created']);
    expect(versions.map((v) => v.path)).toEqual(['/projects/foo/readme.md', '/projects/foo/readme.md', '/projects/foo/readme.md', '/projects/foo/notes.md']);
    expect(versions[0]).toMatchObject({ content: null, content_sha256: null, content_size_bytes: null, redacted_at: null, redacted_by: null });
    expect(versions[3]).toMatchObject({ id: created.memory_version_id, content: null, content_sha256: sha('héllo'), content_size_bytes: 6 });
    const keyId = versions[0]!.created_by!.type === 'api_actor' ? versions[0]!.created_by!.api_key_id : '';
    expect(keyId).toMatch(/^apikey_[0-9a-f]{24}$/);
    expect(keyId).not.toContain(KEY);
    for (const v of versions) expect(v.created_by).toEqual({ type: 'api_actor', api_key_id: keyId });

    const first = await client.beta.memoryStores.memoryVersions.retrieve(created.memory_version_id, { memory_store_id: store.id });
    expect(first).toMatchObject({ operation: 'created', content: 'héllo', memory_id: created.id, memory_store_id: store.id });
    expect((await client.beta.memoryStores.memoryVersions.retrieve(created.memory_version_id, { memory_store_id: store.id, view: 'basic' })).content).toBeNull();
  });

  it('filters versions by operation, api key, session and time, with full content capped at 20 a page', async () => {
    const client = sdk();
    const store = await newStore();
    const m = await client.beta.memoryStores.memories.create(store.id, { path: '/a', content: 'one' });
    await client.beta.memoryStores.memories.update(m.id, { memory_store_id: store.id, content: 'two' });
    const all = (await client.beta.memoryStores.memoryVersions.list(store.id)).data;
    expect(all).toHaveLength(2);
    const keyId = all[0]!.created_by!.type === 'api_actor' ? all[0]!.created_by!.api_key_id : '';
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { operation: 'created' })).data.map((v) => v.id)).toEqual([m.memory_version_id]);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { api_key_id: keyId })).data).toHaveLength(2);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { api_key_id: 'apikey_other' })).data).toHaveLength(0);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { session_id: 'sesn_x' })).data).toHaveLength(0);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { service_account_id: 'svac_x' })).data).toHaveLength(0);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { 'created_at[gte]': '2999-01-01T00:00:00Z' })).data).toHaveLength(0);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id, { 'created_at[lte]': '2999-01-01T00:00:00Z' })).data).toHaveLength(2);
    const full = await client.beta.memoryStores.memoryVersions.list(store.id, { view: 'full' });
    expect(full.data.map((v) => v.content)).toEqual(['two', 'one']);
    for (let i = 0; i < 21; i++) await client.beta.memoryStores.memories.create(store.id, { path: `/many/${i}`, content: String(i) });
    expect((await call('GET', `/v1/memory_stores/${store.id}/memory_versions?view=full&limit=100`)).body.data).toHaveLength(20);
    expect((await call('GET', `/v1/memory_stores/${store.id}/memories?view=full&limit=100`)).body.data).toHaveLength(20);
    expect((await call('GET', `/v1/memory_stores/${store.id}/memory_versions?limit=100`)).body.data).toHaveLength(23);
  });

  it('applies an update only while its content_sha256 precondition holds (409 memory_precondition_failed_error otherwise)', async () => {
    const client = sdk();
    const store = await newStore();
    const m = await client.beta.memoryStores.memories.create(store.id, { path: '/todo.md', content: 'v1' });
    const ok = await client.beta.memoryStores.memories.update(m.id, {
      memory_store_id: store.id,
      content: 'v2',
      precondition: { type: 'content_sha256', content_sha256: sha('v1') },
    });
    expect(ok.content_sha256).toBe(sha('v2'));
    const stale = await call('POST', `/v1/memory_stores/${store.id}/memories/${m.id}`, { content: 'v3', precondition: { type: 'content_sha256', content_sha256: sha('v1') } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.type).toBe('memory_precondition_failed_error');
    await expect(
      client.beta.memoryStores.memories.update(m.id, { memory_store_id: store.id, content: 'v3', precondition: { type: 'content_sha256', content_sha256: sha('v1') } }),
    ).rejects.toBeInstanceOf(ConflictError);
    // Already what was asked for: succeeds although the hash is stale, and makes no version.
    const already = await client.beta.memoryStores.memories.update(m.id, {
      memory_store_id: store.id,
      content: 'v2',
      precondition: { type: 'content_sha256', content_sha256: sha('v1') },
    });
    expect(already.memory_version_id).toBe(ok.memory_version_id);
    // A rename's precondition refers to the current content.
    const moved = await client.beta.memoryStores.memories.update(m.id, {
      memory_store_id: store.id,
      path: '/done.md',
      precondition: { type: 'content_sha256', content_sha256: sha('v2') },
    });
    expect(moved.path).toBe('/done.md');

    const refusedDelete = await call('DELETE', `/v1/memory_stores/${store.id}/memories/${m.id}?expected_content_sha256=${sha('v1')}`);
    expect(refusedDelete.status).toBe(409);
    expect(refusedDelete.body.error.type).toBe('memory_precondition_failed_error');
    expect((await client.beta.memoryStores.memories.retrieve(m.id, { memory_store_id: store.id })).content).toBe('v2');
    await client.beta.memoryStores.memories.delete(m.id, { memory_store_id: store.id, expected_content_sha256: sha('v2') });
    await expect(client.beta.memoryStores.memories.retrieve(m.id, { memory_store_id: store.id })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a path that is taken or overlaps another memory with 409 memory_path_conflict_error naming it', async () => {
    const client = sdk();
    const store = await newStore();
    const notes = await client.beta.memoryStores.memories.create(store.id, { path: '/notes', content: 'x' });
    const todo = await client.beta.memoryStores.memories.create(store.id, { path: '/work/todo.md', content: 'y' });
    const cases: Array<[unknown, string, string]> = [
      [{ path: '/notes', content: 'z' }, '/notes', notes.id],
      [{ path: '/notes/todo.md', content: 'z' }, '/notes', notes.id],
      [{ path: '/work', content: 'z' }, '/work/todo.md', todo.id],
    ];
    for (const [body, path, id] of cases) {
      const r = await call('POST', `/v1/memory_stores/${store.id}/memories`, body);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error).toMatchObject({ type: 'memory_path_conflict_error', conflicting_path: path, conflicting_memory_id: id });
    }
    const rename = await call('POST', `/v1/memory_stores/${store.id}/memories/${todo.id}`, { path: '/notes/sub' });
    expect(rename.body.error).toMatchObject({ type: 'memory_path_conflict_error', conflicting_path: '/notes', conflicting_memory_id: notes.id });
    // `/notes-archive` shares characters, not a segment, with `/notes`.
    await client.beta.memoryStores.memories.create(store.id, { path: '/notes-archive/a', content: '' });
    expect(await allPaths(store.id)).toEqual(['/notes', '/notes-archive/a', '/work/todo.md']);
    expect((await client.beta.memoryStores.memoryVersions.list(store.id)).data).toHaveLength(3);
  });

  it('lists by path_prefix and depth, rolling deeper memories into memory_prefix items, page by page with limit=1', async () => {
    const client = sdk();
    const store = await newStore();
    for (const path of ['/a.md', '/notes/todo.md', '/notes/2026/jan.md', '/notes/2026/feb.md', '/notes/deep/x/y.md', '/notes-archive/old.md', '/z/last.md'])
      await client.beta.memoryStores.memories.create(store.id, { path, content: path });
    const everything = ['/a.md', '/notes-archive/old.md', '/notes/2026/feb.md', '/notes/2026/jan.md', '/notes/deep/x/y.md', '/notes/todo.md', '/z/last.md'];
    expect(await allPaths(store.id)).toEqual(everything);
    expect(await allPaths(store.id, { limit: 1 })).toEqual(everything);
    expect(await allPaths(store.id, { path_prefix: '/notes/', limit: 1 })).toEqual(['/notes/2026/feb.md', '/notes/2026/jan.md', '/notes/deep/x/y.md', '/notes/todo.md']);
    expect(await allPaths(store.id, { depth: 1 })).toEqual(['/a.md', 'prefix:/notes-archive/', 'prefix:/notes/', 'prefix:/z/']);
    expect(await allPaths(store.id, { depth: 1, limit: 1 })).toEqual(['/a.md', 'prefix:/notes-archive/', 'prefix:/notes/', 'prefix:/z/']);
    expect(await allPaths(store.id, { path_prefix: '/notes/', depth: 1, limit: 1 })).toEqual(['prefix:/notes/2026/', 'prefix:/notes/deep/', '/notes/todo.md']);
    expect(await allPaths(store.id, { path_prefix: '/notes/', depth: 2 })).toEqual(['/notes/2026/feb.md', '/notes/2026/jan.md', 'prefix:/notes/deep/x/', '/notes/todo.md']);
    expect(await allPaths(store.id, { path_prefix: '/nothing/' })).toEqual([]);

    // Through the SDK's own paging, with content.
    const seen: Array<string | null | undefined> = [];
    for await (const item of client.beta.memoryStores.memories.list(store.id, { path_prefix: '/notes/2026/', limit: 1, view: 'full' }))
      seen.push(item.type === 'memory' ? item.content : item.path);
    expect(seen).toEqual(['/notes/2026/feb.md', '/notes/2026/jan.md']);
  });

  it('redacts a version: content, hash, size and path cleared for good, author kept; the current version is refused', async () => {
    const client = sdk();
    const store = await newStore();
    const m = await client.beta.memoryStores.memories.create(store.id, { path: '/secret.txt', content: 'api key: hunter2' });
    const current = await call('POST', `/v1/memory_stores/${store.id}/memory_versions/${m.memory_version_id}/redact`);
    expect(current.status).toBe(409);
    expect(current.body.error.type).toBe('conflict_error');
    await client.beta.memoryStores.memories.update(m.id, { memory_store_id: store.id, content: 'api key: (rotated)' });
    const redacted = await client.beta.memoryStores.memoryVersions.redact(m.memory_version_id, { memory_store_id: store.id });
    expect(redacted).toMatchObject({ id: m.memory_version_id, operation: 'created', content: null, content_sha256: null, content_size_bytes: null, path: null });
    expect(redacted.redacted_at).not.toBeNull();
    expect(redacted.redacted_by).toEqual(redacted.created_by);
    expect(await client.beta.memoryStores.memoryVersions.retrieve(m.memory_version_id, { memory_store_id: store.id })).toEqual(redacted);
    expect(await client.beta.memoryStores.memoryVersions.redact(m.memory_version_id, { memory_store_id: store.id })).toEqual(redacted);
    const listed = await call('GET', `/v1/memory_stores/${store.id}/memory_versions?view=full`);
    expect(JSON.stringify(listed.body)).not.toContain('hunter2');
    expect((await client.beta.memoryStores.memories.retrieve(m.id, { memory_store_id: store.id })).content).toBe('api key: (rotated)');
  });

  it('keeps an archived store readable and deletable, but takes no new or changed memories', async () => {
    const client = sdk();
    const store = await newStore();
    const m = await client.beta.memoryStores.memories.create(store.id, { path: '/keep', content: 'k' });
    await client.beta.memoryStores.archive(store.id);
    await expect(client.beta.memoryStores.memories.create(store.id, { path: '/new', content: 'n' })).rejects.toBeInstanceOf(BadRequestError);
    await expect(client.beta.memoryStores.memories.update(m.id, { memory_store_id: store.id, content: 'changed' })).rejects.toBeInstanceOf(BadRequestError);
    expect((await client.beta.memoryStores.memories.retrieve(m.id, { memory_store_id: store.id })).content).toBe('k');
    expect(await allPaths(store.id)).toEqual(['/keep']);
    await client.beta.memoryStores.memories.delete(m.id, { memory_store_id: store.id });
    expect((await client.beta.memoryStores.memoryVersions.list(store.id)).data.map((v) => v.operation)).toEqual(['deleted', 'created']);
    await client.beta.memoryStores.delete(store.id);
    await expect(client.beta.memoryStores.memoryVersions.list(store.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('bad input', () => {
  it('refuses bad memory paths and contents with a 400 naming the field, and stores nothing', async () => {
    const store = await newStore();
    const deep = `/${Array.from({ length: 21 }, (_, i) => `s${i}`).join('/')}`;
    const cases: Array<[unknown, RegExp]> = [
      [{ path: '/a/../b', content: 'x' }, /^path: a segment must not be \. or \.\./],
      [{ path: '/a/./b', content: 'x' }, /^path: a segment must not be \. or \.\./],
      [{ path: deep, content: 'x' }, /^path: at most 20 segments, got 21/],
      [{ path: '/a\u0007b', content: 'x' }, /^path: must not contain control characters/],
      [{ path: '/a\nb', content: 'x' }, /^path: must not contain control characters/],
      [{ path: '/a\u200bb', content: 'x' }, /^path: must not contain control characters, format characters/],
      [{ path: '/a\u2028b', content: 'x' }, /^path: must not contain/],
      [{ path: '/cafe\u0301', content: 'x' }, /^path: must be in Unicode Normalization Form C/],
      [{ path: 'relative', content: 'x' }, /^path: expected a path starting with \//],
      [{ path: '/', content: 'x' }, /^path: a segment must not be empty/],
      [{ path: '/a//b', content: 'x' }, /^path: a segment must not be empty/],
      [{ path: '/a/', content: 'x' }, /^path: a segment must not be empty/],
      [{ path: `/${'é'.repeat(512)}`, content: 'x' }, /^path: at most 1024 bytes, got 1025/],
      [{ path: 42, content: 'x' }, /^path: .*expected string/i],
      [{ content: 'x' }, /^path: required field is missing/],
      [{ path: '/a' }, /^content: required field is missing/],
      [{ path: '/a', content: 7 }, /^content: .*expected string/i],
      [{ path: '/a', content: 'é'.repeat(51_201) }, /^content: at most 102400 bytes \(UTF-8\), got 102402/],
      [{ path: '/a', content: 'x', extra: 1 }, /unknown field 'extra'/],
    ];
    for (const [body, message] of cases) {
      const r = await call('POST', `/v1/memory_stores/${store.id}/memories`, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
      expect(r.body.error.message).toMatch(message);
    }
    // At the limits exactly: accepted.
    const atLimit = await call('POST', `/v1/memory_stores/${store.id}/memories`, { path: `/${Array.from({ length: 20 }, () => 's').join('/')}`, content: 'é'.repeat(51_200) });
    expect(atLimit.status, JSON.stringify(atLimit.body)).toBe(200);
    expect(await allPaths(store.id)).toEqual([atLimit.body.path]);
    expect((await call('GET', `/v1/memory_stores/${store.id}/memory_versions`)).body.data).toHaveLength(1);
  });

  it('refuses bad input on every other endpoint with a 4xx naming the field', async () => {
    const store = await newStore();
    const m = (await call('POST', `/v1/memory_stores/${store.id}/memories`, { path: '/m', content: 'c' })).body;
    const s = `/v1/memory_stores/${store.id}`;
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/v1/memory_stores', {}, 400, /^name: required field is missing/],
      ['POST', '/v1/memory_stores', { name: '' }, 400, /^name: /],
      ['POST', '/v1/memory_stores', { name: 'a\u0000b' }, 400, /^name: must not contain control characters/],
      ['POST', '/v1/memory_stores', { name: 'x'.repeat(256) }, 400, /^name: at most 255 characters/],
      ['POST', '/v1/memory_stores', { name: 'n', description: 'd'.repeat(1025) }, 400, /^description: at most 1024 characters/],
      ['POST', '/v1/memory_stores', { name: 'n', metadata: { k: 5 } }, 400, /^metadata\.k: /],
      ['POST', s, { name: 5 }, 400, /^name: /],
      ['GET', '/v1/memory_stores?limit=0', undefined, 400, /^limit: /],
      ['GET', '/v1/memory_stores?include_archived=maybe', undefined, 400, /^include_archived: /],
      ['GET', '/v1/memory_stores?page=garbage', undefined, 400, /^page: /],
      ['GET', '/v1/memory_stores?created_at[lte]=soon', undefined, 400, /^created_at\[lte\]: /],
      ['POST', '/v1/memory_stores', [], 400, /^request body: expected a JSON object/],
      ['POST', `${s}/memories`, { path: ['/a'], content: 'x' }, 400, /^path: .*expected string/i],
      ['GET', `${s}/memories?path_prefix=/notes`, undefined, 400, /^path_prefix: must end with \//],
      ['GET', `${s}/memories?path_prefix=/a/../`, undefined, 400, /^path_prefix: a segment must not be/],
      ['GET', `${s}/memories?depth=-1`, undefined, 400, /^depth: /],
      ['GET', `${s}/memories?depth=x`, undefined, 400, /^depth: /],
      ['GET', `${s}/memories?view=everything`, undefined, 400, /^view: /],
      ['GET', `${s}/memories?page=garbage`, undefined, 400, /^page: /],
      ['GET', `${s}/memories/${m.id}?view=x`, undefined, 400, /^view: /],
      ['POST', `${s}/memories/${m.id}`, { path: '/a/../b' }, 400, /^path: /],
      ['POST', `${s}/memories/${m.id}`, { content: 5 }, 400, /^content: .*expected string/i],
      ['POST', `${s}/memories/${m.id}`, { path: '/a\u0001' }, 400, /^path: must not contain control characters/],
      ['POST', `${s}/memories/${m.id}`, { path: `/${Array.from({ length: 21 }, () => 'x').join('/')}` }, 400, /^path: at most 20 segments/],
      ['POST', `${s}/memories/${m.id}`, 'not json', 400, /^request body: malformed JSON/],
      ['POST', `${s}/memories/${m.id}`, { content: 'é'.repeat(51_201) }, 400, /^content: at most 102400 bytes/],
      ['POST', `${s}/memories/${m.id}`, { precondition: { type: 'content_sha256' } }, 400, /^precondition\.content_sha256: required/],
      ['POST', `${s}/memories/${m.id}`, { precondition: { type: 'content_sha256', content_sha256: 'ABC' } }, 400, /^precondition\.content_sha256: expected a SHA-256/],
      ['POST', `${s}/memories/${m.id}`, { precondition: { type: 'version' } }, 400, /^precondition\.type: /],
      ['DELETE', `${s}/memories/${m.id}?expected_content_sha256=nope`, undefined, 400, /^expected_content_sha256: expected a SHA-256/],
      ['GET', `${s}/memory_versions?operation=renamed`, undefined, 400, /^operation: /],
      ['GET', `${s}/memory_versions?created_at[gte]=yesterday`, undefined, 400, /^created_at\[gte\]: /],
      ['GET', `${s}/memory_versions?page=garbage`, undefined, 400, /^page: /],
      ['GET', `${s}/memory_versions/${m.memory_version_id}?view=x`, undefined, 400, /^view: /],
      ['GET', '/v1/memory_stores/memstore_nope', undefined, 404, /memory store 'memstore_nope' not found/],
      ['GET', '/v1/memory_stores/memstore_nope/memories', undefined, 404, /memory store 'memstore_nope' not found/],
      ['POST', '/v1/memory_stores/memstore_nope/memories', { path: '/a', content: '' }, 404, /memory store 'memstore_nope' not found/],
      ['GET', `${s}/memories/mem_nope`, undefined, 404, /memory 'mem_nope' not found/],
      ['POST', `${s}/memories/mem_nope`, { content: 'x' }, 404, /memory 'mem_nope' not found/],
      ['DELETE', `${s}/memories/mem_nope`, undefined, 404, /memory 'mem_nope' not found/],
      ['GET', `${s}/memory_versions/memver_nope`, undefined, 404, /memory version 'memver_nope' not found/],
      ['POST', `${s}/memory_versions/memver_nope/redact`, undefined, 404, /memory version 'memver_nope' not found/],
      ['POST', '/v1/memory_stores/memstore_nope', { name: 'x' }, 404, /memory store 'memstore_nope' not found/],
      ['POST', '/v1/memory_stores/memstore_nope/archive', undefined, 404, /memory store 'memstore_nope' not found/],
      ['DELETE', '/v1/memory_stores/memstore_nope', undefined, 404, /memory store 'memstore_nope' not found/],
      ['GET', '/v1/memory_stores/memstore_nope/memory_versions', undefined, 404, /memory store 'memstore_nope' not found/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await call(method, path, body);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.error.message, `${method} ${path}`).toMatch(message);
    }
    // Nothing changed: the one memory and its one version.
    expect((await call('GET', `${s}/memories/${m.id}`)).body).toMatchObject({ content: 'c', memory_version_id: m.memory_version_id });
    expect((await call('GET', `${s}/memory_versions`)).body.data).toHaveLength(1);
    expect((await call('GET', s)).body.name).toBe('notes');
  });

  it('refuses a body over the request limit with a 413, storing nothing', async () => {
    const store = await newStore();
    const r = await SELF.fetch(`${BASE}/v1/memory_stores/${store.id}/memories`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'content-length': '40000000' },
      body: '{}',
    });
    expect(r.status).toBe(413);
    expect((await call('GET', `/v1/memory_stores/${store.id}/memories`)).body.data).toEqual([]);
  });
});

describe('tenancy', () => {
  it("does not show another workspace's store, memories or versions: 404 everywhere", async () => {
    const mine = await newStore();
    const m = await sdk().beta.memoryStores.memories.create(mine.id, { path: '/private', content: 'mine' });
    const other = sdk(OTHER_KEY);
    await expect(other.beta.memoryStores.retrieve(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.update(mine.id, { name: 'x' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.archive(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.delete(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memories.list(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memories.create(mine.id, { path: '/x', content: 'x' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memories.retrieve(m.id, { memory_store_id: mine.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memories.update(m.id, { memory_store_id: mine.id, content: 'x' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memories.delete(m.id, { memory_store_id: mine.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memoryVersions.list(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memoryVersions.retrieve(m.memory_version_id, { memory_store_id: mine.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.memoryStores.memoryVersions.redact(m.memory_version_id, { memory_store_id: mine.id })).rejects.toBeInstanceOf(NotFoundError);
    expect((await other.beta.memoryStores.list({ limit: 100 })).data.map((s) => s.id)).not.toContain(mine.id);
    // A memory reached through another of my stores is not found either.
    const second = await newStore('second');
    await expect(sdk().beta.memoryStores.memories.retrieve(m.id, { memory_store_id: second.id })).rejects.toBeInstanceOf(NotFoundError);
    expect((await sdk().beta.memoryStores.memories.retrieve(m.id, { memory_store_id: mine.id })).content).toBe('mine');
  });
});
