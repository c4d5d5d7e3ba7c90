// Who a sandbox runs as: nobody when the host is root, EDGEHARNESS_SANDBOX_USER when it names someone else, the
// host's own user otherwise; and how root's bubblewrap arguments are rewritten to switch to that user.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropToSandboxUser, type DropOptions } from '../../sandbox/local/bwrap-drop.ts';
import { sandboxUser } from '../../sandbox/local/sandbox-user.ts';
import { processesMentioning, waitFor } from '../support/processes.ts';
import { PROJECT_ROOT } from './fixture.ts';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  'builder:x:1500:1600::/home/builder:/bin/sh',
].join('\n');
const asRoot = { uid: 0, gid: 0 };
const user = (env: Record<string, string>, self = asRoot): ReturnType<typeof sandboxUser> => sandboxUser(env, self, () => PASSWD);

describe('the sandbox user', () => {
  it('is nobody for a root host, unless EDGEHARNESS_SANDBOX_USER names another', () => {
    expect(user({})).toEqual({ uid: 65534, gid: 65534, switches: true });
    expect(user({ EDGEHARNESS_SANDBOX_USER: 'builder' })).toEqual({ uid: 1500, gid: 1600, switches: true });
    expect(user({ EDGEHARNESS_SANDBOX_USER: '1500' })).toEqual({ uid: 1500, gid: 1600, switches: true });
    expect(user({ EDGEHARNESS_SANDBOX_USER: '4242' })).toEqual({ uid: 4242, gid: 4242, switches: true });
    expect(user({ EDGEHARNESS_SANDBOX_USER: 'builder:77' })).toEqual({ uid: 1500, gid: 77, switches: true });
  });

  it('is never root, and an unknown name is an error naming the variable', () => {
    expect(() => user({ EDGEHARNESS_SANDBOX_USER: 'root' })).toThrow('EDGEHARNESS_SANDBOX_USER=root is root');
    expect(() => user({ EDGEHARNESS_SANDBOX_USER: '1500:0' })).toThrow('must run as an unprivileged user');
    expect(() => user({ EDGEHARNESS_SANDBOX_USER: 'ghost' })).toThrow('EDGEHARNESS_SANDBOX_USER=ghost: there is no user "ghost"');
    expect(() => user({ EDGEHARNESS_SANDBOX_USER: 'builder:staff' })).toThrow('"staff" is not a numeric gid');
  });

  it("is the host's own user when the host is not root, which cannot switch to anyone else", () => {
    const self = { uid: 1500, gid: 1600 };
    expect(user({}, self)).toEqual({ uid: 1500, gid: 1600, switches: false });
    expect(user({ EDGEHARNESS_SANDBOX_USER: 'builder' }, self)).toEqual({ uid: 1500, gid: 1600, switches: false });
    expect(() => user({ EDGEHARNESS_SANDBOX_USER: 'nobody' }, self)).toThrow('only root can start a process as another user');
  });
});

describe("root's bubblewrap arguments, rewritten to run the sandbox as its user", () => {
  const o: DropOptions = { uid: 65534, gid: 65534, setpriv: '/usr/bin/setpriv', exists: (p) => !p.startsWith('/missing') };
  // its own IPC namespace (every sandbox runs as the same user), the capabilities the switch needs, then setpriv
  const tail = ['--unshare-ipc', '--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP', '--',
    '/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--'];

  it('make no user namespace, keep only the capabilities the switch needs, and run the command through setpriv', () => {
    const { args } = dropToSandboxUser(['--new-session', '--unshare-pid', '--unshare-user', '--cap-drop', 'ALL', '--cap-add', 'CAP_SETFCAP', '--proc', '/proc', '--', '/usr/bin/bash', '-c', 'id'], o);
    expect(args).toEqual(['--new-session', '--unshare-pid', '--proc', '/proc', ...tail, '/usr/bin/bash', '-c', 'id']);
  });

  it('give the sandbox user a way through the directories bwrap makes for a mount, and its tmpfs mounts', () => {
    const host = new Set(['/', '/tmp', '/tmp/state', '/tmp/state/ws', '/tmp/state/ws/repo', '/usr', '/usr/lib']);
    const { args } = dropToSandboxUser([
      '--ro-bind', '/', '/', '--tmpfs', '/tmp',
      '--bind', '/tmp/state/ws', '/tmp/state/ws',
      '--ro-bind', '/dev/null', '/tmp/state/ws/repo/.gitconfig', // inside the bind: its parents are the host's
      '--ro-bind', '/tmp/state/other', '/tmp/state/other', // /tmp/state was made already
      '--ro-bind', '/usr/lib/x', '/usr/lib/x', // in the host's tree
      '--ro-bind-try', '/missing/x', '/missing/x', // mounts nothing
      '--tmpfs', '/tmp/state', '--ro-bind', '/tmp/state/ws', '/tmp/state/ws', // a tmpfs over it: made again
      'true',
    ], { ...o, exists: (p) => host.has(p) });
    expect(args).toEqual([
      '--ro-bind', '/', '/', '--perms', '01777', '--tmpfs', '/tmp',
      '--perms', '01777', '--dir', '/tmp/state', '--bind', '/tmp/state/ws', '/tmp/state/ws',
      '--ro-bind', '/dev/null', '/tmp/state/ws/repo/.gitconfig',
      '--ro-bind', '/tmp/state/other', '/tmp/state/other',
      '--ro-bind', '/usr/lib/x', '/usr/lib/x',
      '--ro-bind-try', '/missing/x', '/missing/x',
      '--perms', '01777', '--tmpfs', '/tmp/state', '--ro-bind', '/tmp/state/ws', '/tmp/state/ws',
      ...tail, 'true',
    ]);
    const deeper = dropToSandboxUser(['--tmpfs', '/tmp', '--ro-bind', '/tmp/a/b/c', '/tmp/a/b/c', 'true'], o).args;
    expect(deeper.slice(0, 12)).toEqual(['--perms', '01777', '--tmpfs', '/tmp', '--perms', '01777', '--dir', '/tmp/a', '--perms', '01777', '--dir', '/tmp/a/b']);
  });

  it('keep a mode given for a tmpfs, and hand on the file descriptors the arguments name', () => {
    const { args, fds } = dropToSandboxUser(['--perms', '0700', '--size', '100', '--tmpfs', '/x', '--sync-fd', '7', '--setenv', '--bind', '--tmpfs', '--', 'true'], o);
    expect(args).toEqual(['--perms', '0700', '--size', '100', '--tmpfs', '/x', '--sync-fd', '7', '--setenv', '--bind', '--tmpfs', ...tail, 'true']);
    expect(fds).toEqual([7]);
  });

  it('refuse what they cannot honour: an unknown option, or one that needs bwrap\'s own user namespace', () => {
    expect(() => dropToSandboxUser(['--overlay-src', '/a', '--', 'true'], o)).toThrow('unknown bubblewrap option --overlay-src');
    for (const option of [['--disable-userns'], ['--uid', '0'], ['--userns', '5']]) {
      expect(() => dropToSandboxUser([...option, '--', 'true'], o)).toThrow(`bubblewrap option ${option[0]} needs bwrap's own user namespace`);
    }
    expect(() => dropToSandboxUser(['--bind', '/a'], o)).toThrow('--bind takes 2 argument(s)');
    expect(() => dropToSandboxUser(['--unshare-pid'], o)).toThrow('no command');
  });

  it("bind the workspace's mnt at /mnt last, over sandbox-runtime's tmpfs, and protect there what it protects in the workspace", () => {
    const ws = '/tmp/state/ws';
    const host = new Set(['/', '/tmp', '/tmp/state', ws, `${ws}/mnt`, `${ws}/mnt/repo`, `${ws}/mnt/repo/.git`, '/mnt']);
    const { args } = dropToSandboxUser([
      '--ro-bind', '/', '/', '--tmpfs', '/mnt', '--tmpfs', '/tmp',
      '--bind', ws, ws,
      '--ro-bind', `${ws}/mnt/repo/.git/hooks`, `${ws}/mnt/repo/.git/hooks`,
      '--ro-bind', '/dev/null', `${ws}/.bashrc`, // outside mnt: not repeated
      '--', 'true',
    ], { ...o, exists: (p) => host.has(p), mnt: `${ws}/mnt` });
    const command = args.indexOf('--unshare-ipc');
    expect(args.slice(command - 6, command)).toEqual(['--bind', `${ws}/mnt`, '/mnt', '--ro-bind', `${ws}/mnt/repo/.git/hooks`, '/mnt/repo/.git/hooks']);
    expect(args.filter((a) => a === '/mnt')).toHaveLength(2); // the tmpfs, then the bind over it

    // a workspace under /mnt would be covered by its own mnt: no bind then
    const under = dropToSandboxUser(['--bind', '/mnt/ws', '/mnt/ws', '--', 'true'], { ...o, mnt: '/mnt/ws/mnt' }).args;
    expect(under).not.toContain('/mnt/ws/mnt');
    // none given (the stand-in found no real directory there): nothing added
    expect(dropToSandboxUser(['--tmpfs', '/mnt', '--', 'true'], o).args).toEqual(['--perms', '01777', '--tmpfs', '/mnt', ...tail, 'true']);
  });

  it('leave a question about bwrap itself as it is', () => {
    expect(dropToSandboxUser(['--version'], o).args).toEqual(['--version']);
  });
});

// needs root (it switches users) and real bubblewrap
describe.skipIf(process.getuid?.() !== 0)('the bubblewrap stand-in', () => {
  const standIn = path.join(PROJECT_ROOT, 'sandbox', 'local', 'bwrap-as-sandbox-user.ts');
  const which = (name: string): string => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();

  it('ends, and takes its sandbox along, when whoever started it is killed without a word', async () => {
    const marker = `edgeharness-orphan-probe-${randomBytes(6).toString('hex')}`;
    const args = [standIn, '65534', '65534', which('bwrap'), realpathSync(which('setpriv')), '',
      '--ro-bind', '/', '/', '--dev', '/dev', '--unshare-pid', '--proc', '/proc', '--die-with-parent', '--', '/bin/sh', '-c', 'sleep 300', marker];
    // the launcher's place: a parent that starts the stand-in and then dies by SIGKILL, with no chance to clean up
    const parent = spawn(process.execPath, ['-e', `require('node:child_process').spawn(process.execPath, ${JSON.stringify(args)}, { stdio: 'ignore' }); setInterval(() => {}, 1000);`], { stdio: 'ignore' });
    const inside = (): ReturnType<typeof processesMentioning> => processesMentioning(marker).filter((p) => p.cmdline.startsWith('/bin/sh -c sleep 300'));
    await waitFor('the sandboxed command to start', () => inside().length > 0, 30_000);
    parent.kill('SIGKILL');
    await waitFor('the orphaned sandbox to end', () => processesMentioning(marker).length === 0, 30_000);
  });
});
