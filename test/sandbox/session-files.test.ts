// A session's file resources placed in its sandbox by the local host (sandbox/local/session-files.ts), through the
// Worker's client: readable at `<workspace><mount_path>`, not writable, removable or replaceable by the sandbox's
// user; a file added later is there before the next call; a removed one's copy goes; one that cannot be placed is
// reported once.
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitServer, type GitServer } from '../support/git-server.ts';
import type { SandboxFile, SandboxSpec } from '../../sandbox/hands.ts';
import { newKey, spec, text, useHost } from './fixture.ts';

const file = (resourceId: string, mountPath: string, content: string | null): SandboxFile => ({
  resourceId,
  fileId: `file_${resourceId}`,
  mountPath,
  read: async () => (content === null ? null : new TextEncoder().encode(content)),
});

describe('session files in the local sandbox', () => {
  const host = useHost();
  const run = (s: SandboxSpec, command: string) => host.hands.execute(s, { name: 'bash', input: { command }, idempotencyKey: newKey() });

  it('places each file read-only at its mount path under the workspace, owned by the host, before the call runs', async () => {
    const s = { ...spec('sess_files_ro'), files: [file('sesrsc_a', '/mnt/session/uploads/file_a', 'hello from the files api\n')] };
    const read = await run(s, 'cat mnt/session/uploads/file_a /mnt/session/uploads/file_a');
    expect(read.isError, text(read)).toBe(false);
    // at its mount path as the API names it, and under the workspace
    expect(text(read).match(/hello from the files api/g)).toHaveLength(2);
    expect(read.fileErrors).toBeUndefined();

    const placed = path.join(host.workspace('sess_files_ro'), 'mnt/session/uploads/file_a');
    const stat = lstatSync(placed);
    expect(stat.mode & 0o777).toBe(0o444);
    expect(stat.uid).toBe(process.getuid!());
    expect(lstatSync(path.dirname(placed)).uid).toBe(process.getuid!());

    for (const attempt of ['echo x > mnt/session/uploads/file_a', 'echo x > /mnt/session/uploads/file_a', 'rm -f mnt/session/uploads/file_a', 'mv mnt/session/uploads/file_a elsewhere', 'chmod 666 mnt/session/uploads/file_a']) {
      const outcome = await run(s, attempt);
      expect(text(outcome), attempt).toMatch(/Permission denied|Operation not permitted/);
    }
    expect(readFileSync(placed, 'utf8')).toBe('hello from the files api\n');
  });

  it('places a file added later before the next call, and removes the copy of one no longer listed', async () => {
    const first = { ...spec('sess_files_later'), files: [file('sesrsc_1', '/mnt/session/uploads/one', 'one')] };
    expect(text(await run(first, 'cat mnt/session/uploads/one'))).toContain('one');
    const both = { ...first, files: [...first.files, file('sesrsc_2', '/data/two.txt', 'two')] };
    expect(text(await run(both, 'cat data/two.txt'))).toContain('two');
    const onlySecond = { ...first, files: [both.files[1]!] };
    const gone = await run(onlySecond, 'ls mnt/session/uploads/; cat data/two.txt');
    expect(text(gone)).not.toContain('one');
    expect(text(gone)).toContain('two');
  });

  describe('beside a repository cloned into the same top-level directory', () => {
    const TOKEN = 'ghp_session_files_test_token';
    let git: GitServer;
    beforeAll(async () => {
      git = await startGitServer(TOKEN);
    });
    afterAll(async () => {
      await git?.close();
    });

    it('hands the clone to the sandbox’s user and keeps the file the host’s, read-only', async () => {
      const s: SandboxSpec = {
        ...spec('sess_files_repo'),
        repositories: [{ resourceId: 'sesrsc_repo', url: git.url, checkout: null, mountPath: '/mnt/repo', token: TOKEN }],
        files: [file('sesrsc_f', '/mnt/session/uploads/f', 'placed')],
      };
      const outcome = await run(s, 'touch mnt/repo/agent-wrote-this /mnt/repo/through-mnt && cat mnt/session/uploads/f; echo x > mnt/session/uploads/f');
      expect(outcome.repositoryErrors).toBeUndefined();
      expect(text(outcome)).toContain('placed');
      expect(text(outcome)).toContain('Permission denied');
      const workspace = host.workspace('sess_files_repo');
      expect(lstatSync(path.join(workspace, 'mnt/repo/agent-wrote-this')).isFile()).toBe(true);
      expect(lstatSync(path.join(workspace, 'mnt/repo/through-mnt')).isFile()).toBe(true);
      // what sandbox-runtime write-protects in the clone from its next start (a shell's rc file: the next file placed
      // restarts it) is protected at /mnt too
      await run(s, 'echo "# mine" > mnt/repo/.bashrc');
      const restarted = { ...s, files: [...s.files!, file('sesrsc_g', '/mnt/session/uploads/g', 'restart')] };
      const protectedRc = await run(restarted, 'echo x >> mnt/repo/.bashrc; echo x >> /mnt/repo/.bashrc; cat /mnt/session/uploads/g');
      expect(text(protectedRc)).toContain('restart');
      expect(text(protectedRc).match(/Read-only file system|Permission denied/g), text(protectedRc)).toHaveLength(2);
      expect(readFileSync(path.join(workspace, 'mnt/repo/.bashrc'), 'utf8')).toBe('# mine\n');
      expect(lstatSync(path.join(workspace, 'mnt/session/uploads/f')).uid).toBe(process.getuid!());
      expect(lstatSync(path.join(workspace, 'mnt')).uid).toBe(process.getuid!());
    });
  });

  it('reports a file it cannot place once, and goes on without it', async () => {
    const s = {
      ...spec('sess_files_fail'),
      files: [file('sesrsc_gone', '/mnt/session/uploads/gone', null), file('sesrsc_taken', '/mine/taken', 'theirs')],
    };
    // the sandbox made /mine first: the host does not write into a directory the sandbox owns
    await run({ ...s, files: [] }, 'mkdir -p mine');
    const outcome = await run(s, 'echo ran');
    expect(text(outcome)).toContain('ran');
    expect(outcome.fileErrors).toEqual([
      { type: 'unknown_error', message: expect.stringContaining('file_sesrsc_gone is no longer in the workspace') },
      { type: 'unknown_error', message: expect.stringContaining('mine in the workspace was made by the sandbox') },
    ]);
    expect((await run(s, 'echo again')).fileErrors).toBeUndefined();
  });
});
