// How the launcher has sandbox-runtime run its sandbox as the sandbox user: the bubblewrap stand-in it is pointed at
// when the host is root, a check that this machine lets that user run a sandbox at all (with what to do if not),
// and the launcher's own files the sandbox user must reach.
import { spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dropToSandboxUser, RUNTIME_TAG } from './bwrap-drop.ts';
import { SYSTEM_READ_PATHS } from './isolation.ts';
import type { SandboxUser } from './sandbox-user.ts';

const STAND_IN = path.join(import.meta.dirname, 'bwrap-as-sandbox-user.ts');


/**
 * What sandbox-runtime's configuration needs so that its sandbox runs as `user`: nothing when the host sandboxes as
 * itself; otherwise `bwrapPath`, a script in the launcher's scratch dir that runs bwrap-as-sandbox-user.ts with the
 * user, the binaries found here and the workspace (whose `mnt` it binds at /mnt). Throws, saying what to install or
 * change, when this machine cannot.
 */
export function prepareUserSwitch(user: SandboxUser, scratch: string, nodeBinary: string, workspace: string): { bwrapPath?: string } {
  const bwrap = which('bwrap');
  const unshare = which('unshare');
  if (!bwrap) return {}; // sandbox-runtime's dependency check says so
  if (!user.switches) {
    if (unshare) checkUserNamespaces(user, bwrap, ['--unshare-user', ...PROBE_MOUNTS, '--', unshare, ...NESTED_NAMESPACE, 'true']);
    return {};
  }
  const found = which('setpriv');
  const setpriv = found && realpathSync(found);
  if (!setpriv || !SYSTEM_READ_PATHS.some((dir) => setpriv.startsWith(`${dir}/`))) {
    throw new Error(`setpriv (util-linux) must be installed in a system directory (${SYSTEM_READ_PATHS.join(', ')}), where the sandbox can run it, to start sandboxes as uid ${user.uid} while the host runs as root`);
  }
  const drop = (args: string[]): string[] => dropToSandboxUser(args, { uid: user.uid, gid: user.gid, setpriv, exists: () => true }).args;
  checkStart(user, bwrap, drop(['--unshare-user', ...PROBE_MOUNTS, '--', 'true']));
  if (unshare) checkUserNamespaces(user, bwrap, drop(['--unshare-user', ...PROBE_MOUNTS, '--', unshare, ...NESTED_NAMESPACE, 'true']));
  const script = path.join(scratch, 'bwrap-as-sandbox-user');
  // sandbox-runtime runs the script with the sandbox's own environment, built afresh: the stand-in gets the
  // runtime's tag back, so the runtime's reaper finds it (and, through bwrap's --die-with-parent, the sandbox)
  const tag = process.env[RUNTIME_TAG];
  const command = [...(tag ? ['env', `${RUNTIME_TAG}=${tag}`] : []), nodeBinary, STAND_IN, String(user.uid), String(user.gid), bwrap, setpriv, path.join(workspace, 'mnt')];
  writeFileSync(script, `#!/bin/sh\nexec ${command.map(shellQuote).join(' ')} "$@"\n`, { mode: 0o700 });
  return { bwrapPath: script };
}

/** Files the launcher makes that the sandbox user must open: the proxy's Unix sockets (connecting needs write). */
export function giveToSandboxUser(files: readonly string[], user: SandboxUser): void {
  if (!user.switches) return;
  for (const file of files) chownSync(file, user.uid, user.gid);
}

/** The mounts of a sandbox that matter to the checks: a read-only root, a private /tmp, fresh /dev and /proc. */
const PROBE_MOUNTS = ['--new-session', '--die-with-parent', '--unshare-net', '--ro-bind', '/', '/', '--tmpfs', '/tmp',
  '--dev', '/dev', '--unshare-pid', '--proc', '/proc'];

/** What sandbox-runtime's seccomp helper does inside the sandbox, as the sandbox user: a nested user namespace with mounts. */
const NESTED_NAMESPACE = ['--user', '--map-root-user', '--mount'];

function checkStart(user: SandboxUser, bwrap: string, args: string[]): void {
  const refusal = run(bwrap, args);
  if (refusal === undefined) return;
  throw new Error(
    `bubblewrap could not start a sandbox as uid ${user.uid} (${refusal}). While the host runs as root, bubblewrap ` +
      'runs as root without a user namespace and needs CAP_SYS_ADMIN; root inside an unprivileged container lacks ' +
      'it, so run the sandbox host as an ordinary user there',
  );
}

function checkUserNamespaces(user: SandboxUser, bwrap: string, args: string[]): void {
  const refusal = run(bwrap, args);
  if (refusal === undefined) return;
  throw new Error(
    `the sandbox user (uid ${user.uid}) cannot create the user namespaces a sandbox needs (${refusal}). Allow ` +
      'unprivileged user namespaces: on Ubuntu 23.10 and later AppArmor restricts them (sudo sysctl -w ' +
      'kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile that allows userns for bwrap); elsewhere ' +
      'check that user.max_user_namespaces is not 0 and, on older Debian kernels, kernel.unprivileged_userns_clone=1',
  );
}

/** Runs a check; undefined when it passed, else the first line it printed on stderr. */
function run(binary: string, args: string[]): string | undefined {
  const result = spawnSync(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 10_000 });
  if (result.error === undefined && result.status === 0) return undefined;
  const line = (result.stderr ?? '').split('\n').map((l) => l.trim()).find(Boolean);
  return line ?? result.error?.message ?? `exit status ${result.status}`;
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
