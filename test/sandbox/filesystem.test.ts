// What a session's sandbox can read of the host, and as whom its tools run: an unprivileged user that sees the
// system directories (minus their secrets), its own workspace and the tool runner's files, and nothing else.
// Every check runs a real command inside real bubblewrap, as the sandbox host runs it.
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeholderFor, type SandboxCredential } from '../../sandbox/credentials.ts';
import { sandboxConfig, SYSTEM_READ_PATHS } from '../../sandbox/local/isolation.ts';
import { redactSavedOutput } from '../../sandbox/local/saved-output.ts';
import { sandboxUser } from '../../sandbox/local/sandbox-user.ts';
import { newRoot, PROJECT_ROOT, removeRoot, startHost, startHostProcess, text, useHost, type TestHost } from './fixture.ts';

const root = process.getuid?.() === 0;
const canary = `canary-${randomBytes(8).toString('hex')}`;

describe('the sandbox user', () => {
  const host = useHost();

  it('is not root: tools run as the sandbox user, without capabilities', async () => {
    const outcome = await host.call('sesn_who', 'bash', { command: 'id -u; id -g; grep -E "^Cap(Prm|Eff|Amb)" /proc/self/status' });
    const [uid, gid, ...caps] = text(outcome).split('\n');
    expect(uid).not.toBe('0');
    // nobody, unless EDGEHARNESS_SANDBOX_USER says otherwise; a host that is not root sandboxes as itself
    expect(Number(uid)).toBe(sandboxUser().uid);
    expect(Number(gid)).toBe(sandboxUser().gid);
    expect(caps).toEqual(['CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000', 'CapAmb:\t0000000000000000']);
  });

  it('owns what the tools write in its workspace', async () => {
    await host.call('sesn_who', 'write', { file_path: 'notes/a.txt', content: 'hello' });
    await host.call('sesn_who', 'bash', { command: 'echo from-bash > b.txt' });
    for (const file of ['notes/a.txt', 'notes', 'b.txt', '.']) {
      const stat = statSync(path.join(host.workspace('sesn_who'), file));
      expect([stat.uid, stat.gid], file).toEqual([sandboxUser().uid, sandboxUser().gid]);
    }
  });

  it('is given a workspace a root sandbox wrote before, all of it, when its sandbox starts', async ({ skip }) => {
    if (!root) return skip('only a root host switches users');
    const workspace = host.workspace('sesn_inherited');
    mkdirSync(path.join(workspace, 'deep', 'er'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(workspace, 'deep', 'er', 'old.txt'), canary, { mode: 0o600 });
    // a link the old sandbox left: handed over itself, never followed to its target
    const target = path.join(host.root, 'link-target');
    writeFileSync(target, 'not the sandbox user\'s');
    const link = path.join(workspace, 'link');
    symlinkSync(target, link);

    const outcome = await host.call('sesn_inherited', 'bash', { command: 'cat deep/er/old.txt && echo more >> deep/er/old.txt && echo ok' });
    expect(text(outcome)).toBe(`${canary}ok`);
    expect(statSync(path.join(workspace, 'deep', 'er', 'old.txt')).uid).toBe(sandboxUser().uid);
    expect(lstatSync(link).uid).toBe(sandboxUser().uid);
    expect(statSync(target).uid).toBe(0);
  });
});

describe('a workspace holding hundreds of repositories', () => {
  it('still starts, as the sandbox user, though their write protections make too long a bwrap command line', async () => {
    const host = await startHost();
    try {
      // sandbox-runtime protects each repository's .git/hooks, .git/config and the like with a mount of its own;
      // past ~128 KiB it passes the mounts to bwrap through a file (--args), which the switch to the user rewrites too
      for (let i = 0; i < 300; i++) {
        const repo = path.join(host.workspace('sesn_repos'), `a-directory-with-a-long-name-for-repository-${i}`);
        mkdirSync(path.join(repo, '.git', 'hooks'), { recursive: true });
        writeFileSync(path.join(repo, '.git', 'config'), '');
      }
      const outcome = await host.call('sesn_repos', 'bash', { command: 'id -u; ls | wc -l; echo x > a-directory-with-a-long-name-for-repository-7/.git/config' });
      expect(outcome.isError).toBe(true);
      expect(text(outcome)).toMatch(new RegExp(`^${sandboxUser().uid}\n300\n.*: Read-only file system$`));
    } finally {
      await host.close();
      removeRoot(host.root);
    }
  });
});

describe("a file the host rewrites in a workspace", () => {
  it("stays the sandbox user's: a saved output redacted by a root host is still the sandbox's to read", ({ skip }) => {
    if (!root) return skip('only a root host writes as another user');
    const workspace = mkdtempSync(path.join(newRoot(), 'workspace-'));
    try {
      const outputs = path.join(workspace, '.edgeharness', 'outputs');
      mkdirSync(outputs, { recursive: true });
      const file = path.join(outputs, 'sevt_owned.txt');
      const token: SandboxCredential = {
        credentialId: 'vcrd_owned', vaultId: 'vlt_test', name: 'TOKEN', placeholder: placeholderFor('vcrd_owned'),
        value: `secret-${randomBytes(12).toString('hex')}`, networking: { type: 'unrestricted' }, injection: { header: true, body: false },
      };
      writeFileSync(file, `echoed: ${token.value}`, { mode: 0o600 });
      chownSync(file, 4242, 4343);
      redactSavedOutput(workspace, 'sevt_owned', [token]);
      expect(readFileSync(file, 'utf8')).toBe(`echoed: ${token.placeholder}`);
      expect([statSync(file).uid, statSync(file).gid]).toEqual([4242, 4343]);
    } finally {
      removeRoot(path.dirname(workspace));
    }
  });
});

describe('another sandbox user, chosen with EDGEHARNESS_SANDBOX_USER', () => {
  it('runs the tools as that uid and gid, and gives it the workspace', async ({ skip }) => {
    if (!root) return skip('only a root host switches users');
    const host = await startHostProcess(newRoot(), { ...process.env, EDGEHARNESS_SANDBOX_USER: '4242:4343' });
    try {
      const outcome = await host.call('sesn_4242', 'bash', { command: 'id -u; id -g; echo x > mine.txt && cat mine.txt' });
      expect(text(outcome)).toBe('4242\n4343\nx');
      const stat = statSync(path.join(host.workspace('sesn_4242'), 'mine.txt'));
      expect([stat.uid, stat.gid]).toEqual([4242, 4343]);
    } finally {
      await host.close();
      removeRoot(host.root);
    }
  });

  it('refuses root, and says so in the result', async ({ skip }) => {
    if (!root) return skip('only a root host switches users');
    const host = await startHostProcess(newRoot(), { ...process.env, EDGEHARNESS_SANDBOX_USER: 'root' });
    try {
      const outcome = await host.call('sesn_root', 'bash', { command: 'id -u' });
      expect(outcome.isError).toBe(true);
      expect(text(outcome)).toContain('EDGEHARNESS_SANDBOX_USER=root is root');
    } finally {
      await host.close();
      removeRoot(host.root);
    }
  });
});

/** A new directory outside every path the sandbox is given, with a world-readable canary in it, if this user may make one. */
function canaryDirElsewhere(): string | undefined {
  for (const parent of ['/srv', '/opt', '/var/lib']) {
    try {
      const dir = mkdtempSync(path.join(parent, 'edgeharness-canary-'));
      chmodSync(dir, 0o755);
      writeFileSync(path.join(dir, 'canary.txt'), canary, { mode: 0o644 });
      return dir;
    } catch {
      // not writable for this user
    }
  }
  return undefined;
}

describe('what a sandbox can read of the host', () => {
  let host: TestHost;
  let elsewhere: string | undefined;
  let rootOnly: string | undefined;
  beforeAll(async () => {
    host = await startHost();
    elsewhere = canaryDirElsewhere();
    if (root) {
      rootOnly = path.join('/etc', `edgeharness-canary-${randomBytes(4).toString('hex')}`);
      writeFileSync(rootOnly, canary, { mode: 0o600 });
    }
  });
  afterAll(async () => {
    await host.close();
    removeRoot(host.root);
    if (elsewhere) rmSync(elsewhere, { recursive: true, force: true });
    if (rootOnly) rmSync(rootOnly, { force: true });
  });

  it('cannot read /etc/shadow or /etc/gshadow, though /etc is there', async () => {
    expect(existsSync('/etc/shadow')).toBe(true);
    const outcome = await host.call('sesn_read', 'bash', { command: 'head -1 /etc/passwd; cat /etc/shadow /etc/gshadow' });
    expect(outcome.isError).toBe(true);
    const lines = text(outcome).split('\n');
    expect(lines[0]).toMatch(/^root:x:0:0:/);
    expect(lines.slice(1)).toEqual(['cat: /etc/shadow: Permission denied', 'cat: /etc/gshadow: Permission denied']);
  });

  it('cannot read a canary in a directory outside its paths, however readable the file is', async ({ skip }) => {
    if (!elsewhere) return skip('no writable directory in /srv, /opt or /var/lib for this user');
    const file = path.join(elsewhere, 'canary.txt');
    const outcome = await host.call('sesn_read', 'bash', { command: `cat ${file}; ls -A ${path.dirname(elsewhere)}` });
    expect(text(outcome)).not.toContain(canary);
    expect(text(outcome)).toBe(`cat: ${file}: No such file or directory`);
  });

  it("cannot read root's own file even where a system directory shows it", async ({ skip }) => {
    if (!rootOnly) return skip('only root can put a file in /etc');
    const outcome = await host.call('sesn_read', 'bash', { command: `ls ${rootOnly} && cat ${rootOnly}` });
    expect(text(outcome)).toBe(`${rootOnly}\ncat: ${rootOnly}: Permission denied`);
  });

  it('sees the system directories; every other top-level directory of the host is empty inside', async () => {
    // the ones holding the sandbox's own mounts (its workspace, the tool runner's files) show only the way to them
    const ways = [host.workspace('sesn_read'), PROJECT_ROOT].map((p) => `/${p.split('/')[1]}`);
    const hidden = readdirSync('/')
      .map((name) => `/${name}`)
      .filter((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() && lstatSync(dir).isDirectory())
      .filter((dir) => !SYSTEM_READ_PATHS.includes(dir) && !['/proc', '/dev', '/sys', '/tmp', ...ways].includes(dir));
    expect(hidden.length).toBeGreaterThan(0);
    const outcome = await host.call('sesn_read', 'bash', { command: `for d in ${hidden.join(' ')} /sys; do echo "$d: $(ls -A $d | wc -l)"; done; ls /usr/bin/env; ls /etc/hosts` });
    expect(text(outcome).split('\n')).toEqual([...[...hidden, '/sys'].map((d) => `${d}: 0`), '/usr/bin/env', '/etc/hosts']);
  });
});

describe('a Node installed outside the system paths', () => {
  it('re-opens its bin and global modules, never the rest of its prefix (where npm keeps registry tokens)', () => {
    const prefix = mkdtempSync(path.join(tmpdir(), 'eh-node-prefix-'));
    try {
      for (const dir of ['bin', 'lib/node_modules/npm', 'etc']) mkdirSync(path.join(prefix, dir), { recursive: true });
      writeFileSync(path.join(prefix, 'bin', 'node'), '');
      writeFileSync(path.join(prefix, 'etc', 'npmrc'), '//registry.npmjs.org/:_authToken=secret');
      const paths = {
        workspace: path.join(prefix, 'ws'), hiddenState: [], projectRoot: PROJECT_ROOT,
        toolRunner: path.join(PROJECT_ROOT, 'sandbox', 'local', 'tool-runner.ts'), nodeBinary: path.join(prefix, 'bin', 'node'),
      };
      const { allowRead = [] } = sandboxConfig(paths, { type: 'unrestricted' }).filesystem;
      expect(allowRead).toContain(path.join(prefix, 'bin'));
      expect(allowRead).toContain(path.join(prefix, 'lib', 'node_modules'));
      expect(allowRead.filter((p) => typeof p === 'string' && (p === prefix || path.join(prefix, 'etc').startsWith(p)))).toEqual([]);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});
