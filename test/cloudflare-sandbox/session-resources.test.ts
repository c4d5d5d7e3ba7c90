// The Cloudflare provider's session resources, against the fake sandbox (whose "container" is a directory standing
// for its `/` and real child processes): file resources and skills placed read-only at their paths and removed when
// no longer listed, repositories cloned by root from a local git server, the token nowhere the tools can see.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContainerHands, MAX_PLACED_FILE_BYTES } from '../../sandbox/cloudflare/container-hands.ts';
import type { SandboxFile, SandboxRepository, SandboxSkill, SandboxSpec, ToolOutcome } from '../../sandbox/hands.ts';
import { repositoryFrom, startGitServer, type GitServer } from '../support/git-server.ts';
import { asNobody, FakeSandboxes, NOBODY } from './support/fake-sandbox.ts';

const TOKEN = 'ghp_cloudflare_clone_token_4567';

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  sessionId: 'sesn_R1',
  workspaceId: 'wrkspc_default',
  environmentId: 'env_1',
  networking: { type: 'limited', allowed_hosts: [], allow_package_managers: false, allow_mcp_servers: false },
  ...over,
});

const text = (outcome: ToolOutcome): string => outcome.content.map((block) => block.text).join('');

/** Every byte value, twice: a file that only a binary-safe write brings across whole. */
const BINARY = new Uint8Array(512).map((_, i) => i % 256);

const fileResource = (id: string, bytes: Uint8Array | null = BINARY): SandboxFile => ({
  resourceId: `sesrsc_${id}`,
  fileId: `file_${id}`,
  mountPath: `/mnt/session/uploads/file_${id}`,
  read: async () => bytes,
});

const skill = (over: Partial<SandboxSkill> = {}): SandboxSkill => ({
  skillId: 'skill_01pdf',
  version: '1',
  name: 'pdf',
  files: [
    { path: 'SKILL.md', read: async () => new TextEncoder().encode('---\nname: pdf\n---\nRead PDFs.\n') },
    { path: 'scripts/extract.sh', read: async () => new TextEncoder().encode('echo extracted\n') },
  ],
  ...over,
});

let root: string;
let sandboxes: FakeSandboxes;
let n = 0;
const call = (command: string) => ({ name: 'bash', input: { command }, idempotencyKey: `sevt_${++n}` });

/** Where a mount path is in the fake container. */
const inContainer = (mountPath: string): string => path.join(sandboxes.layout.rootDir, mountPath);

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'eh-cf-resources-'));
  sandboxes = new FakeSandboxes(root);
});

afterEach(() => {
  sandboxes.killAll();
  rmSync(root, { recursive: true, force: true });
});

describe('file resources in a Cloudflare sandbox', () => {
  it('places a file resource at its mount path before the call, byte for byte, read-only, and removes it once it is no longer listed', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const placed = inContainer('/mnt/session/uploads/file_a');

    const first = await hands.execute(spec({ files: [fileResource('a')] }), call(`od -An -tu1 -N4 -j255 ${placed}`));

    expect(first.fileErrors).toBeUndefined();
    expect(text(first).trim().split(/\s+/)).toEqual(['255', '0', '1', '2']);
    expect(new Uint8Array(readFileSync(placed))).toEqual(BINARY);
    expect(statSync(placed).mode & 0o777).toBe(0o444);
    expect(statSync(path.dirname(placed)).mode & 0o777).toBe(0o755);
    // staged bytes and plans do not outlive the setup (beside the record, only the mark of a container a call ran in)
    expect(readdirSync(sandboxes.layout.stateDir).sort()).toEqual(['container-started', 'resources.json']);

    const removed = await hands.execute(spec({ files: [] }), call(`ls ${path.dirname(placed)}`));
    expect(removed.isError).toBe(false);
    expect(text(removed)).toBe('');
    expect(existsSync(placed)).toBe(false);
  });

  it('is root’s: the sandbox user reads it but cannot write, remove or replace it (as nobody, on this machine)', async ({ skip }) => {
    const fake = asNobody(root);
    if (!fake) return skip('only root can switch users, and nobody must be able to read this checkout');
    sandboxes = fake;
    const hands = createContainerHands(fake.open, { layout: fake.layout });
    const placed = inContainer('/mnt/session/uploads/file_a');

    const tries = await hands.execute(spec({ files: [fileResource('a')] }), call(
      `wc -c < ${placed}; echo x > ${placed}; rm -f ${placed}; mv ${placed} ${placed}.moved; chmod 666 ${placed}; wc -c < ${placed}`,
    ));

    expect(text(tries)).toMatch(/^512\n.*Permission denied.*\n.*Permission denied.*\n.*Permission denied.*\n.*Operation not permitted.*\n512$/s);
    expect(statSync(placed).uid).toBe(0);
    expect(statSync(path.dirname(placed)).uid).toBe(0);
    expect(new Uint8Array(readFileSync(placed))).toEqual(BINARY);
  });

  it('places the files again in a fresh container after the old one died, and only the missing ones otherwise', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const withFile = spec({ files: [fileResource('a')] });
    await hands.execute(withFile, call('true'));
    await hands.execute(withFile, call('true'));
    const sandbox = sandboxes.session('sesn_R1');
    expect(sandbox.writes.filter((w) => w.encoding === 'base64')).toHaveLength(1);

    sandbox.killContainer();
    const after = await hands.execute(withFile, call(`wc -c < ${inContainer('/mnt/session/uploads/file_a')}`));

    expect(text(after)).toBe('512');
    expect(sandbox.containersStarted).toBe(2);
    expect(sandbox.writes.filter((w) => w.encoding === 'base64')).toHaveLength(2);
  });

  it('reports a file it cannot place once, and places the others', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const files = [fileResource('gone', null), fileResource('big', new Uint8Array(MAX_PLACED_FILE_BYTES + 1)), fileResource('ok')];

    const first = await hands.execute(spec({ files }), call('true'));
    const second = await hands.execute(spec({ files }), call('true'));

    expect(first.fileErrors).toEqual([
      { type: 'unknown_error', message: expect.stringMatching(/^file file_gone was not placed at \/mnt\/session\/uploads\/file_gone: it is no longer in the workspace's files/) },
      { type: 'unknown_error', message: expect.stringContaining(`over the Cloudflare sandbox's limit of ${MAX_PLACED_FILE_BYTES}`) },
    ]);
    expect(second.fileErrors).toBeUndefined();
    expect(existsSync(inContainer('/mnt/session/uploads/file_ok'))).toBe(true);
    expect(existsSync(inContainer('/mnt/session/uploads/file_big'))).toBe(false);
  });

  it('refuses to place a file under a directory the sandbox user made, and writes nothing through a link there (as nobody, on this machine)', async ({ skip }) => {
    const fake = asNobody(root);
    if (!fake) return skip('only root can switch users, and nobody must be able to read this checkout');
    sandboxes = fake;
    const hands = createContainerHands(fake.open, { layout: fake.layout });
    const elsewhere = path.join(root, 'elsewhere');
    const workspace = fake.layout.workspaceDir;
    // the agent makes /workspace/mine and links /workspace/linked to a directory of its choosing
    await hands.execute(spec(), call(`mkdir ${workspace}/mine && ln -s ${elsewhere} ${workspace}/linked`));

    const outcome = await hands.execute(spec({
      files: [
        { ...fileResource('a'), mountPath: '/workspace/mine/a' },
        { ...fileResource('b'), mountPath: '/workspace/linked/b' },
        { ...fileResource('c'), mountPath: '/workspace/inputs/c' },
      ],
    }), call('true'));

    expect(outcome.fileErrors).toEqual([
      { type: 'unknown_error', message: expect.stringContaining('/workspace/mine belongs to the sandbox\'s user') },
      { type: 'unknown_error', message: expect.stringContaining('/workspace/linked is not a directory') },
    ]);
    expect(existsSync(elsewhere)).toBe(false);
    expect(statSync(inContainer('/workspace/inputs/c')).uid).toBe(0);
  });
});

describe('skills in a Cloudflare sandbox', () => {
  it('places each file of a skill under /mnt/skills/<name>/, readable, and removes the skill once it is no longer listed', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const dir = inContainer('/mnt/skills/pdf');

    const outcome = await hands.execute(spec({ skills: [skill()] }), call(`cat ${dir}/SKILL.md; sh ${dir}/scripts/extract.sh`));

    expect(outcome.fileErrors).toBeUndefined();
    expect(text(outcome)).toBe('---\nname: pdf\n---\nRead PDFs.\nextracted');
    expect(statSync(path.join(dir, 'scripts', 'extract.sh')).mode & 0o777).toBe(0o444);

    await hands.execute(spec({ skills: [] }), call('true'));
    expect(readdirSync(inContainer('/mnt/skills'))).toEqual([]);
  });

  it('replaces a skill’s files when the session pins another version, and leaves skills alone when the spec does not list them', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    await hands.execute(spec({ skills: [skill()] }), call('true'));
    const v2 = skill({ version: '2', files: [{ path: 'SKILL.md', read: async () => new TextEncoder().encode('version 2\n') }] });

    await hands.execute(spec({ skills: [v2] }), call('true'));
    expect(readFileSync(inContainer('/mnt/skills/pdf/SKILL.md'), 'utf8')).toBe('version 2\n');
    expect(existsSync(inContainer('/mnt/skills/pdf/scripts'))).toBe(false);

    await hands.execute(spec(), call('true'));
    expect(readFileSync(inContainer('/mnt/skills/pdf/SKILL.md'), 'utf8')).toBe('version 2\n');
  });

  it('reports a skill file whose path would leave the skill’s directory, and places nothing there', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const bad = skill({ files: [{ path: '../../escaped', read: async () => new Uint8Array([1]) }] });

    const outcome = await hands.execute(spec({ skills: [bad] }), call('true'));

    expect(outcome.fileErrors).toEqual([
      { type: 'unknown_error', message: expect.stringMatching(/^skill pdf \(skill_01pdf, version 1\): \.\.\/\.\.\/escaped was not placed .*not a relative path inside the skill/) },
    ]);
    expect(existsSync(inContainer('/escaped'))).toBe(false);
    expect(existsSync(inContainer('/mnt/escaped'))).toBe(false);
  });
});

describe('repositories in a Cloudflare sandbox', () => {
  let server: GitServer;
  beforeAll(async () => {
    server = await startGitServer(TOKEN);
  });
  afterAll(async () => {
    await server?.close();
  });

  const repo = (over: Partial<SandboxRepository> = {}): SandboxRepository => repositoryFrom(server, TOKEN, over);

  /** Every file under `dir`, read whole (links not followed). */
  function everyFile(dir: string): Array<{ file: string; content: string }> {
    const out: Array<{ file: string; content: string }> = [];
    for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      const file = path.join(dir, entry);
      try {
        if (statSync(file).isFile()) out.push({ file, content: readFileSync(file, 'latin1') });
      } catch {
        // a dangling link
      }
    }
    return out;
  }

  it('clones a repository at its pinned commit into its mount path, the sandbox user’s, the token in no outcome and no file of the container', async ({ skip }) => {
    const fake = asNobody(root) ?? sandboxes;
    sandboxes = fake;
    const hands = createContainerHands(fake.open, { layout: fake.layout });
    const pinned = repo({ checkout: { type: 'commit', sha: server.commits.first } });
    const clone = inContainer('/workspace/hello');

    const outcome = await hands.execute(spec({ repositories: [pinned] }), call(`git -C ${clone} log --format=%H; env`));

    expect(outcome.repositoryErrors).toBeUndefined();
    expect(text(outcome).split('\n')[0]).toBe(server.commits.first);
    expect(text(outcome)).not.toContain(TOKEN);
    expect(readFileSync(path.join(clone, '.git', 'config'), 'utf8')).toContain(`url = ${server.url}`);
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    for (const { file, content } of everyFile(fake.layout.rootDir)) {
      expect(content, file).not.toContain(TOKEN);
      expect(content, file).not.toContain(basic);
    }
    if (fake.layout.sandboxUser) {
      expect(statSync(clone).uid).toBe(NOBODY.uid);
      expect(statSync(path.join(clone, '.git', 'HEAD')).uid).toBe(NOBODY.uid);
    }
    // the clone's egress was let through for its duration only, for that repository
    const sandbox = fake.session('sesn_R1');
    expect(sandbox.cloneGrants).toEqual([undefined, { marker: expect.stringMatching(/^[0-9a-f]{64}$/), urls: [server.url] }, undefined]);
    expect(sandbox.networkingApplied).toEqual([spec().networking, spec().networking, spec().networking]);

    // cloned once per container: later calls neither clone again nor report anything
    const again = await hands.execute(spec({ repositories: [pinned] }), call(`git -C ${clone} log --format=%H`));
    expect(again.repositoryErrors).toBeUndefined();
    expect(sandbox.cloneGrants).toHaveLength(3);
  });

  it('reports a refused token and an unknown commit as the SDK’s repository errors, once, without the token', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const repositories = [
      repo({ mountPath: '/workspace/denied', token: 'ghp_wrong_token_value' }),
      repo({ mountPath: '/workspace/unknown', checkout: { type: 'commit', sha: 'f'.repeat(40) } }),
      repo({ mountPath: '/src/main' }),
    ];

    const first = await hands.execute(spec({ repositories }), call('ls /dev/null'));
    const second = await hands.execute(spec({ repositories }), call('true'));

    expect(first.repositoryErrors).toEqual([
      { type: 'repository_authentication_error', message: expect.stringContaining('refused the authorization_token'), repository_url: server.url },
      { type: 'repository_checkout_error', message: expect.stringContaining(`commit ${'f'.repeat(40)} is not in ${server.url}`), repository_url: server.url },
    ]);
    expect(JSON.stringify(first)).not.toContain('ghp_wrong_token_value');
    expect(second.repositoryErrors).toBeUndefined();
    expect(readdirSync(sandboxes.layout.workspaceDir)).not.toEqual(expect.arrayContaining(['denied']));
    expect(readdirSync(sandboxes.layout.workspaceDir)).not.toEqual(expect.arrayContaining(['unknown']));
    expect(existsSync(inContainer('/src/main/.git'))).toBe(true);
  });

  it('clones again into a fresh container after the old one died', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const repositories = [repo()];
    await hands.execute(spec({ repositories }), call('true'));
    sandboxes.session('sesn_R1').killContainer();

    const outcome = await hands.execute(spec({ repositories }), call(`git -C ${inContainer('/workspace/hello')} rev-parse HEAD`));

    expect(outcome.repositoryErrors).toBeUndefined();
    expect(text(outcome)).toBe(server.commits.second);
  });
});
