// Session resources over HTTP: `resources` on session create and /v1/sessions/{id}/resources in the official
// shapes, a repository's token write-only, refusals that name the field and store nothing, and tenancy.
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, KEY, makeSession, registerKey } from './api.ts';

async function upload(name: string, key = KEY): Promise<string> {
  const form = new FormData();
  form.append('file', new File(['hello'], name, { type: 'text/plain' }));
  const res = await SELF.fetch('http://edgeharness.test/v1/files', { method: 'POST', body: form, headers: { 'x-api-key': key } });
  const body = (await res.json()) as { id: string };
  if (res.status !== 200) throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return body.id;
}

const OTHER_KEY = 'test-key-session-resources-second-workspace';
const TOKEN = 'ghp_http_session_resource_token';
const SHA = '0123456789abcdef0123456789abcdef01234567';

beforeAll(async () => {
  await registerKey(OTHER_KEY, 'wrkspc_session_resources_second');
});

async function sessionWith(resources: unknown[]) {
  const { agentId, environmentId } = await makeSession();
  return call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, resources });
}

describe('session resources API', () => {
  it('creates a session with a repository and a file, in the official shapes, the token in no response', async () => {
    const fileId = await upload('in.csv');
    const r = await sessionWith([
      { type: 'github_repository', url: 'https://github.com/octo/hello.git', authorization_token: TOKEN, checkout: { type: 'branch', name: 'main' } },
      { type: 'file', file_id: fileId, mount_path: '/data/in.csv' },
    ]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.resources).toEqual([
      {
        type: 'github_repository',
        id: expect.stringMatching(/^sesrsc_/),
        url: 'https://github.com/octo/hello.git',
        checkout: { type: 'branch', name: 'main' },
        mount_path: '/workspace/hello',
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
      {
        type: 'file',
        id: expect.stringMatching(/^sesrsc_/),
        file_id: fileId,
        mount_path: '/data/in.csv',
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    ]);
    const id = r.body.id;
    const repoId = r.body.resources[0].id;
    const everything = [
      await call('GET', `/v1/sessions/${id}`),
      await call('GET', '/v1/sessions?limit=100'),
      await call('GET', `/v1/sessions/${id}/resources`),
      await call('GET', `/v1/sessions/${id}/resources/${repoId}`),
      await call('POST', `/v1/sessions/${id}/resources/${repoId}`, { authorization_token: 'ghp_rotated_http_token' }),
    ];
    for (const reply of everything) expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(JSON.stringify(everything.map((x) => x.body))).not.toMatch(/ghp_/);
    expect(everything[1]!.body.data.find((s: { id: string }) => s.id === id).resources).toEqual(r.body.resources);
  });

  it('refuses bad resources with a 400 naming the field, and creates no session', async () => {
    const before = (await call('GET', '/v1/sessions?limit=100')).body.data.length;
    const cases: Array<[unknown, string]> = [
      [{ type: 'github_repository', url: 'ftp://example.com/r' }, 'resources[0].url: expected an https:// URL'],
      [{ type: 'github_repository', url: 'https://user:pw@github.com/o/r' }, 'resources[0].url: must not carry credentials'],
      [{ type: 'github_repository', url: 'http://127.0.0.1:8787/o/r' }, 'resources[0].url: expected an https:// URL'],
      [{ type: 'github_repository', url: 'http://localhost/o/r' }, 'resources[0].url: expected an https:// URL'],
      [{ type: 'github_repository', url: 'https://github.com/o/r', checkout: { type: 'commit', sha: 'abc' } }, 'resources[0].checkout.sha: expected a full commit SHA'],
      [{ type: 'github_repository', url: 'https://github.com/o/r', checkout: { type: 'branch', name: '--upload-pack=x' } }, 'resources[0].checkout.name: not a valid branch name'],
      [{ type: 'github_repository', url: 'https://github.com/o/r', authorization_token: '' }, 'resources[0].authorization_token: must not be empty'],
      [{ type: 'github_repository', url: 'https://github.com/o/r', mount_path: 'relative' }, 'resources[0].mount_path: expected an absolute path'],
      [{ type: 'github_repository', url: 'https://github.com/o/r', mount_path: '/a/../b' }, 'resources[0].mount_path: expected a normalised path'],
      [{ type: 'file', file_id: 'not-a-file' }, 'resources[0].file_id: expected a file id'],
      [{ type: 'memory_store', memory_store_id: 'not-a-store' }, 'resources[0].memory_store_id: expected a memory store id'],
    ];
    for (const [resource, message] of cases) {
      const r = await sessionWith([resource]);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.message).toContain(message);
    }
    // makeSession created one session per case; the refused creates added none.
    expect((await call('GET', '/v1/sessions?limit=100')).body.data.length).toBe(before + cases.length);
  });

  it('adds only files after create, lists, retrieves, updates and deletes them', async () => {
    const { sessionId } = await makeSession();
    const repo = await call('POST', `/v1/sessions/${sessionId}/resources`, { type: 'github_repository', url: 'https://github.com/o/r' });
    expect(repo.status).toBe(400);
    expect(repo.body.error.message).toContain('type');
    const fileId = await upload('notes.txt');
    const added = await call('POST', `/v1/sessions/${sessionId}/resources`, { type: 'file', file_id: fileId });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body).toMatchObject({ type: 'file', file_id: fileId, mount_path: `/mnt/session/uploads/${fileId}` });
    const rid = added.body.id;
    expect((await call('GET', `/v1/sessions/${sessionId}/resources/${rid}`)).body).toEqual(added.body);
    expect((await call('GET', `/v1/sessions/${sessionId}/resources?limit=1`)).body).toEqual({ data: [added.body], next_page: null });
    const rotate = await call('POST', `/v1/sessions/${sessionId}/resources/${rid}`, { authorization_token: 'x' });
    expect(rotate.status).toBe(400);
    expect(rotate.body.error.message).toMatch(/^authorization_token: /);
    expect((await call('DELETE', `/v1/sessions/${sessionId}/resources/${rid}`)).body).toEqual({ id: rid, type: 'session_resource_deleted' });
    expect((await call('GET', `/v1/sessions/${sessionId}/resources/${rid}`)).status).toBe(404);
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.resources).toEqual([]);
  });

  it('finds no resource of another workspace’s session, and mounts no file of another workspace', async () => {
    const { sessionId } = await makeSession(KEY);
    const added = await call('POST', `/v1/sessions/${sessionId}/resources`, { type: 'file', file_id: await upload('mine.txt') });
    const rid = added.body.id;
    const theirs = await upload('theirs.txt', OTHER_KEY);
    const foreign = await call('POST', `/v1/sessions/${sessionId}/resources`, { type: 'file', file_id: theirs });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.message).toBe(`file_id: file '${theirs}' not found`);
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/v1/sessions/${sessionId}/resources`],
      ['POST', `/v1/sessions/${sessionId}/resources`, { type: 'file', file_id: theirs }],
      ['GET', `/v1/sessions/${sessionId}/resources/${rid}`],
      ['POST', `/v1/sessions/${sessionId}/resources/${rid}`, { authorization_token: 'tok_other' }],
      ['DELETE', `/v1/sessions/${sessionId}/resources/${rid}`],
    ];
    for (const [method, path, body] of attempts) expect((await call(method, path, body, OTHER_KEY)).status, `${method} ${path}`).toBe(404);
    expect((await call('GET', `/v1/sessions/${sessionId}/resources`)).body.data).toEqual([added.body]);
  });
});
