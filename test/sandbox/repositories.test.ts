// Cloning a session's repositories by the host (sandbox/local/repositories.ts), against a local git server that
// wants the token: checked out where asked, the token in no file the clone leaves, and each failure as the SDK's
// repository error type.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxRepository } from '../../sandbox/hands.ts';
import { cloneRepositories } from '../../sandbox/local/repositories.ts';
import { repositoryFrom, startGitServer, type GitServer } from '../support/git-server.ts';

const TOKEN = 'ghp_local_git_server_token_0123';
let server: GitServer;
let dir: string;

beforeAll(async () => {
  server = await startGitServer(TOKEN);
  dir = mkdtempSync(path.join(tmpdir(), 'eh-clone-test-'));
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const repo = (over: Partial<SandboxRepository>): SandboxRepository => repositoryFrom(server, TOKEN, over);

function head(repoDir: string): string {
  return execFileSync('git', ['-C', repoDir, 'rev-parse', 'HEAD'], { encoding: 'utf8', env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } }).trim();
}

/** Every file under `root`, read whole. */
function everyFile(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const p = path.join(root, entry);
    if (statSync(p).isFile()) out.push(readFileSync(p, 'latin1'));
  }
  return out;
}

describe('cloning session repositories on the host', () => {
  it('clones at the default branch, a branch and a commit, each into its mount path, the token in no file', async () => {
    const session = path.join(dir, 'ok');
    const workspace = path.join(session, 'workspace');
    const { errors, cloned } = await cloneRepositories(session, workspace, [
      repo({ mountPath: '/workspace/hello' }),
      repo({ mountPath: '/src/feature', checkout: { type: 'branch', name: 'feature' } }),
      repo({ mountPath: '/src/pinned', checkout: { type: 'commit', sha: server.commits.first } }),
    ]);
    expect(errors).toEqual([]);
    expect(cloned.sort()).toEqual([path.join(workspace, 'src'), path.join(workspace, 'workspace')]);
    expect(head(path.join(workspace, 'workspace', 'hello'))).toBe(server.commits.second);
    expect(head(path.join(workspace, 'src', 'feature'))).toBe(server.commits.feature);
    expect(head(path.join(workspace, 'src', 'pinned'))).toBe(server.commits.first);
    expect(readFileSync(path.join(workspace, 'workspace', 'hello', '.git', 'config'), 'utf8')).toContain(`url = ${server.url}`);
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    for (const content of everyFile(session)) {
      expect(content).not.toContain(TOKEN);
      expect(content).not.toContain(basic);
    }
  });

  it('reports each failure as the SDK’s repository error, once, and goes on with the others', async () => {
    const session = path.join(dir, 'failures');
    const workspace = path.join(session, 'workspace');
    const repos = [
      repo({ mountPath: '/a', token: 'ghp_wrong_token_value' }),
      repo({ mountPath: '/b', token: null }),
      repo({ mountPath: '/c', url: `${server.base}/forbidden.git` }),
      repo({ mountPath: '/d', url: `${server.base}/missing.git` }),
      repo({ mountPath: '/e', checkout: { type: 'branch', name: 'no-such-branch' } }),
      repo({ mountPath: '/f', checkout: { type: 'commit', sha: 'f'.repeat(40) } }),
      repo({ mountPath: '/g' }),
    ];
    const { errors } = await cloneRepositories(session, workspace, repos);
    expect(errors.map((e) => e.type)).toEqual([
      'repository_authentication_error',
      'repository_authentication_error',
      'repository_forbidden_error',
      'repository_not_found_error',
      'repository_checkout_error',
      'repository_checkout_error',
    ]);
    expect(errors.every((e) => e.repository_url !== null && !e.message.includes('ghp_wrong'))).toBe(true);
    expect(readdirSync(workspace).sort()).toEqual(['g']);
    expect(await cloneRepositories(session, workspace, repos)).toEqual({ errors: [], cloned: [] });
  });
});
