// The session-resources module queried directly: resources stored with their session in one go, default mount
// paths, a repository's token sealed at rest and opened only for cloning, rotation, and resources scoped to their
// session.
import { describe, expect, it } from 'vitest';
import type { SessionResourceParams } from '../../../contract/session-resource.ts';
import { inWorkspace, modules, refusal, value } from './workspace.ts';

const TOKEN = 'ghp_session_resource_token_1234';
const SHA = 'a'.repeat(40);

function setup(m: ReturnType<typeof modules>, fileIds: string[] = []) {
  const agent = value(m.agents.create({ name: 'a', model: 'claude-sonnet-5-5' }));
  const env = value(m.environments.create({ name: 'e' }));
  for (const id of fileIds) storeFile(m, id);
  return { agent: agent.id, environment_id: env.id };
}

function storeFile(m: ReturnType<typeof modules>, id: string) {
  value(m.files.create({ type: 'file', id, filename: `${id}.txt`, mime_type: 'text/plain', size_bytes: 1, created_at: new Date().toISOString(), downloadable: false, expires_at: null, scope: null }));
}

const repo = (extra: Partial<Extract<SessionResourceParams, { type: 'github_repository' }>> = {}): SessionResourceParams => ({
  type: 'github_repository',
  url: 'https://github.com/octo/hello-world.git',
  authorization_token: TOKEN,
  ...extra,
});

describe('session resources', () => {
  it('stores a session’s resources with it, with the SDK’s default mount paths, and never shows the token', () =>
    inWorkspace('sres_create', async (storage) => {
      const m = modules(storage, 'wrkspc_resources_sres_create');
      const session = value(
        await m.sessions.createWithResources({
          ...setup(m, ['file_abc123']),
          resources: [repo({ checkout: { type: 'commit', sha: SHA } }), { type: 'file', file_id: 'file_abc123' }],
        }),
      );
      expect(session.resources).toMatchObject([
        { type: 'github_repository', url: 'https://github.com/octo/hello-world.git', checkout: { type: 'commit', sha: SHA }, mount_path: '/workspace/hello-world' },
        { type: 'file', file_id: 'file_abc123', mount_path: '/mnt/session/uploads/file_abc123' },
      ]);
      expect(value(m.sessions.get(session.id)).resources).toEqual(session.resources);
      const rows = storage.sql.exec<{ body: string; ciphertext: string | null }>(`SELECT body, ciphertext FROM session_resources`).toArray();
      expect(rows).toHaveLength(2);
      expect(JSON.stringify(rows) + JSON.stringify(session)).not.toContain(TOKEN);
      expect(await m.sessionResources.repositoriesToClone(session.id)).toEqual([
        { resourceId: session.resources[0]!.id, url: 'https://github.com/octo/hello-world.git', checkout: { type: 'commit', sha: SHA }, mountPath: '/workspace/hello-world', token: TOKEN },
      ]);
    }));

  it('refuses two resources at one place and stores nothing, not even the session', () =>
    inWorkspace('sres_clash', async (storage) => {
      const m = modules(storage, 'wrkspc_resources_sres_clash');
      const refused = refusal(
        await m.sessions.createWithResources({ ...setup(m), resources: [repo(), repo({ mount_path: '/workspace/hello-world/sub' })] }),
      );
      expect(refused.message).toBe("resources[1].mount_path: '/workspace/hello-world/sub' overlaps the mount path of resources[0] ('/workspace/hello-world')");
      expect(storage.sql.exec(`SELECT COUNT(*) AS n FROM sessions`).one().n).toBe(0);
      expect(storage.sql.exec(`SELECT COUNT(*) AS n FROM session_resources`).one().n).toBe(0);
    }));

  it('rotates a repository’s token, sealed anew, and refuses a token for a file', () =>
    inWorkspace('sres_rotate', async (storage) => {
      const m = modules(storage, 'wrkspc_resources_sres_rotate');
      const session = value(await m.sessions.createWithResources({ ...setup(m, ['file_x']), resources: [repo(), { type: 'file', file_id: 'file_x' }] }));
      const [r, f] = session.resources;
      const before = storage.sql.exec<{ ciphertext: string }>(`SELECT ciphertext FROM session_resources WHERE id = ?`, r!.id).one().ciphertext;
      const rotated = value(await m.sessionResources.update(session.id, r!.id, { authorization_token: 'ghp_rotated_token_5678' }));
      expect(rotated).toMatchObject({ id: r!.id, type: 'github_repository' });
      expect(JSON.stringify(rotated)).not.toContain('ghp_rotated');
      expect(storage.sql.exec<{ ciphertext: string }>(`SELECT ciphertext FROM session_resources WHERE id = ?`, r!.id).one().ciphertext).not.toBe(before);
      expect((await m.sessionResources.repositoriesToClone(session.id))[0]!.token).toBe('ghp_rotated_token_5678');
      expect(refusal(await m.sessionResources.update(session.id, f!.id, { authorization_token: 't' })).message).toBe(
        `authorization_token: resource '${f!.id}' is a file resource; only github_repository resources take a token`,
      );
    }));

  it('mounts only files of this workspace, and stores nothing when one is missing', () =>
    inWorkspace('sres_files', async (storage) => {
      const m = modules(storage, 'wrkspc_resources_sres_files');
      const ids = setup(m, ['file_here']);
      const refused = refusal(await m.sessions.createWithResources({ ...ids, resources: [repo(), { type: 'file', file_id: 'file_elsewhere' }] }));
      expect(refused).toMatchObject({ type: 'not_found_error', message: "resources[1].file_id: file 'file_elsewhere' not found" });
      expect(storage.sql.exec(`SELECT COUNT(*) AS n FROM sessions`).one().n).toBe(0);
      const session = value(await m.sessions.createWithResources({ ...ids }));
      expect(refusal(m.sessionResources.add(session.id, { type: 'file', file_id: 'file_elsewhere' })).message).toBe("file_id: file 'file_elsewhere' not found");
      expect(value(m.sessionResources.add(session.id, { type: 'file', file_id: 'file_here' })).file_id).toBe('file_here');
    }));

  it('adds, lists newest first with a cursor, and deletes; a resource is found only in its own session', () =>
    inWorkspace('sres_crud', async (storage) => {
      const m = modules(storage, 'wrkspc_resources_sres_crud');
      const ids = setup(m, ['file_1', 'file_2', 'file_3']);
      const a = value(await m.sessions.createWithResources({ ...ids }));
      const b = value(await m.sessions.createWithResources({ ...ids }));
      const added = [1, 2, 3].map((i) => value(m.sessionResources.add(a.id, { type: 'file', file_id: `file_${i}` })));
      expect(refusal(m.sessionResources.add(a.id, { type: 'file', file_id: 'file_1' })).message).toBe(
        `mount_path: '/mnt/session/uploads/file_1' is also the mount path of resource '${added[0]!.id}' ('/mnt/session/uploads/file_1')`,
      );
      const first = value(m.sessionResources.list(a.id, { limit: 2 }));
      expect(first.data.map((r) => r.id)).toEqual([added[2]!.id, added[1]!.id]);
      const second = value(m.sessionResources.list(a.id, { limit: 2, page: first.next_page! }));
      expect(second).toEqual({ data: [added[0]], next_page: null });
      expect(refusal(m.sessionResources.get(b.id, added[0]!.id))).toMatchObject({ type: 'not_found_error' });
      expect(refusal(m.sessionResources.list('sesn_missing', { limit: 2 })).message).toBe("session 'sesn_missing' not found");
      expect(value(m.sessionResources.delete(a.id, added[0]!.id))).toEqual({ id: added[0]!.id, type: 'session_resource_deleted' });
      expect(value(m.sessions.get(a.id)).resources.map((r) => r.id)).toEqual([added[1]!.id, added[2]!.id]);
      value(m.sessions.delete(a.id));
      expect(storage.sql.exec(`SELECT COUNT(*) AS n FROM session_resources`).one().n).toBe(0);
    }));
});
