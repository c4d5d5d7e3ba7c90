// How bubblewrap started by root runs a sandbox as the unprivileged sandbox user: the rewrite of sandbox-runtime's
// bwrap arguments that bwrap-as-sandbox-user.ts applies before it runs the real bwrap. Pure, so each rule is testable.
//
// Why bwrap stays root and only the command drops: bwrap's own user namespace maps just the caller's uid, so a
// root caller's sandbox is host root for every permission check, and no uid inside it is a real unprivileged
// host user. bwrap run *as* the unprivileged user resolves every bind source as that user, and the project and
// state directories often sit under a directory it may not enter (a `mktemp -d` checkout, /root): even
// `--bind-fd` resolves its fd back to that path. So bwrap runs as root in the host's user namespace (its mounts
// are then made by root, in a mount namespace the sandbox has no capability over), and setpriv switches the
// command to the sandbox user's real uid, with no capabilities, before anything of the sandbox runs.

/** The options bwrap 0.8 takes, by how many words follow each. */
const ARITY: Record<string, number> = Object.fromEntries([
  ...['--help', '--version', '--unshare-all', '--share-net', '--unshare-user', '--unshare-user-try', '--unshare-ipc',
    '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup', '--unshare-cgroup-try', '--disable-userns',
    '--assert-userns-disabled', '--clearenv', '--new-session', '--die-with-parent', '--as-pid-1'].map((o) => [o, 0]),
  ...['--args', '--argv0', '--userns', '--userns2', '--pidns', '--uid', '--gid', '--hostname', '--chdir', '--unsetenv',
    '--lock-file', '--sync-fd', '--remount-ro', '--exec-label', '--file-label', '--proc', '--dev', '--tmpfs', '--mqueue',
    '--dir', '--seccomp', '--add-seccomp-fd', '--block-fd', '--userns-block-fd', '--info-fd', '--json-status-fd',
    '--cap-add', '--cap-drop', '--perms', '--size'].map((o) => [o, 1]),
  ...['--setenv', '--bind', '--bind-try', '--dev-bind', '--dev-bind-try', '--ro-bind', '--ro-bind-try', '--bind-fd',
    '--ro-bind-fd', '--file', '--bind-data', '--ro-bind-data', '--symlink', '--chmod'].map((o) => [o, 2]),
]);

/** Options whose first word is a file descriptor bwrap reads or holds: the stand-in must hand those fds on. */
const FD_OPTIONS = new Set(['--args', '--pidns', '--sync-fd', '--seccomp', '--add-seccomp-fd', '--block-fd', '--info-fd',
  '--json-status-fd', '--bind-fd', '--ro-bind-fd', '--file', '--bind-data', '--ro-bind-data']);

const BINDS = new Set(['--bind', '--bind-try', '--dev-bind', '--dev-bind-try', '--ro-bind', '--ro-bind-try']);
const TRY_BINDS = new Set(['--bind-try', '--dev-bind-try', '--ro-bind-try']);

/** Options that only mean something in a user namespace of bwrap's own, which a root bwrap does not make here. */
const USER_NAMESPACE_OPTIONS = new Set(['--unshare-all', '--userns', '--userns2', '--uid', '--gid', '--userns-block-fd',
  '--disable-userns', '--assert-userns-disabled']);

/**
 * What setpriv needs to switch the command to the sandbox user and empty its bounding set; it holds them from
 * bwrap's exec to its own, and a uid change from 0 clears the permitted and effective sets. bwrap run by root
 * otherwise keeps every capability for the command.
 */
const SWITCH_CAPABILITIES = ['--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP'];

/**
 * The mode of every directory bwrap makes inside the sandbox: its tmpfs mounts over hidden directories and the
 * directories leading to a mount inside one. bwrap 0.8 makes a bind's missing parents 0700 root, which the sandbox
 * user could not pass through to its own workspace; and a hidden directory stays what it was for a root sandbox,
 * an empty scratch space whose writes never reach the host (the sticky bit as on /tmp).
 */
const MADE_DIRECTORY_MODE = '01777';

/** Options that mount something over their destination, in the order bwrap applies them (last one wins). */
const MOUNTS = new Set([...BINDS, '--tmpfs', '--proc', '--dev', '--mqueue', '--bind-fd', '--ro-bind-fd']);

/** The variable by which `npm start`'s reaper knows every process of one runtime (scripts/runtime-record.ts). */
export const RUNTIME_TAG = 'EDGEHARNESS_RUNTIME_ID';

export interface DropOptions {
  uid: number;
  gid: number;
  /** Absolute path of setpriv (util-linux), which must be visible inside the sandbox. */
  setpriv: string;
  /** Whether a bind source exists (as root sees it): a missing `-try` source mounts nothing, so needs no parents. */
  exists: (path: string) => boolean;
  /**
   * The workspace's `mnt` directory, bound at /mnt so that the absolute mount paths the API names (session files,
   * skills, repositories under /mnt) are there inside the sandbox as well as under the workspace. The caller passes
   * it only when it is a real directory (never a symlink the sandbox left, which root's bwrap would follow).
   */
  mnt?: string;
}

export interface DroppedArgs {
  args: string[];
  /** File descriptors named by the arguments, which bwrap must inherit at the same numbers. */
  fds: number[];
}

/**
 * bwrap's arguments rewritten so that root's bwrap runs the command as the sandbox user: no user namespace, a
 * capability set that holds only what the switch needs, parents and tmpfs mounts the user can use, and setpriv in
 * front of the command. `--args` must have been expanded already. Throws on an option it does not know or one
 * that needs bwrap's own user namespace, rather than guess what the sandbox would become.
 */
export function dropToSandboxUser(args: readonly string[], o: DropOptions): DroppedArgs {
  const out: string[] = [];
  const fds = new Set<number>();
  const view = new SandboxView(o.exists);
  let explicitPerms = false;
  /** sandbox-runtime's mounts inside the workspace's mnt (write-protected files), made again at /mnt after its bind. */
  const underMnt: string[][] = [];
  const add = (option: string, words: string[]): void => {
    if (FD_OPTIONS.has(option)) fds.add(Number(words[0]));
    if (MOUNTS.has(option)) {
      const source = BINDS.has(option) ? words[0] : undefined;
      const dest = words.at(-1) ?? '';
      // a `-try` bind of a missing source mounts nothing, and bwrap makes nothing for it
      if (!(TRY_BINDS.has(option) && source !== undefined && !o.exists(source))) {
        for (const parent of view.missingParents(dest)) out.push('--perms', MADE_DIRECTORY_MODE, '--dir', parent);
        view.mount(dest, option === '--tmpfs' || source === undefined ? undefined : source);
      }
    }
    if (option === '--dir') view.made(words[0] ?? '');
    if (option === '--tmpfs' && !explicitPerms) out.push('--perms', MADE_DIRECTORY_MODE);
    out.push(option, ...words);
    explicitPerms = option === '--perms' || (explicitPerms && option === '--size');
  };
  let i = 0;
  for (; i < args.length; i++) {
    const option = args[i] as string;
    if (option === '--' || !option.startsWith('-')) break;
    const arity = ARITY[option];
    if (arity === undefined) throw new Error(`unknown bubblewrap option ${option}: not run as another user`);
    if (i + arity >= args.length) throw new Error(`bubblewrap option ${option} takes ${arity} argument(s)`);
    const words = args.slice(i + 1, i + 1 + arity);
    i += arity;
    if (option === '--help' || option === '--version') return { args: [...args], fds: [] };
    if (option === '--args') throw new Error('--args must be expanded before the arguments are rewritten');
    if (USER_NAMESPACE_OPTIONS.has(option)) {
      throw new Error(`bubblewrap option ${option} needs bwrap's own user namespace, which a sandbox started by root does not get (it runs as uid ${o.uid} instead)`);
    }
    if (option === '--unshare-user' || option === '--unshare-user-try' || option === '--cap-add' || option === '--cap-drop') continue;
    const dest = words.at(-1) ?? '';
    if (o.mnt !== undefined && (MOUNTS.has(option) || option === '--remount-ro') && !FD_OPTIONS.has(option) && isAtOrUnder(dest, o.mnt))
      underMnt.push([option, ...words.slice(0, -1), `/mnt${dest.slice(o.mnt.length)}`]);
    add(option, words);
  }
  // last, over sandbox-runtime's tmpfs on /mnt; not when the workspace itself is under /mnt, which it would cover
  if (o.mnt !== undefined && !isAtOrUnder(o.mnt, '/mnt')) {
    add('--bind', [o.mnt, '/mnt']);
    for (const [option, ...words] of underMnt) add(option as string, words);
  }
  const command = args.slice(args[i] === '--' ? i + 1 : i);
  if (command.length === 0) throw new Error('no command to run in the sandbox');
  return {
    args: [
      ...out,
      // every sandbox runs as the same user: without its own IPC namespace, System V shared memory and semaphores
      // would be a channel from one session's sandbox to another's
      ...(out.includes('--unshare-ipc') ? [] : ['--unshare-ipc']),
      ...SWITCH_CAPABILITIES,
      '--',
      o.setpriv, `--reuid=${o.uid}`, `--regid=${o.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--',
      ...command,
    ],
    fds: [...fds].filter((fd) => Number.isInteger(fd) && fd > 2),
  };
}

/**
 * What the sandbox's tree holds so far, as far as bwrap's missing parents go: the mounts in order, each either a
 * host path bound there or something made empty (a tmpfs, procfs...), and the directories made since. A parent is
 * missing when the last mount over it is an empty one it lies inside, or a bind of a host path that has no such
 * directory, and no `--dir` made it since. Only those get a `--dir`: a profile of thousands of mounts must stay
 * under bwrap's 9,000 arguments.
 */
class SandboxView {
  private readonly mounts: Array<{ dest: string; source: string | undefined }> = [];
  private readonly madeAt = new Map<string, number>();
  private readonly exists: (path: string) => boolean;

  constructor(exists: (path: string) => boolean) {
    this.exists = exists;
  }

  mount(dest: string, source: string | undefined): void {
    this.mounts.push({ dest, source });
  }

  made(dir: string): void {
    this.madeAt.set(dir, this.mounts.length);
  }

  /** The parents of `dest` bwrap would have to make, shallowest first; noted as made. */
  missingParents(dest: string): string[] {
    const parts = dest.split('/').filter(Boolean);
    const missing = parts.slice(0, -1).map((_, n) => `/${parts.slice(0, n + 1).join('/')}`).filter((dir) => this.isMissing(dir));
    for (const dir of missing) this.made(dir);
    return missing;
  }

  private isMissing(dir: string): boolean {
    let last = -1;
    for (let i = this.mounts.length - 1; i >= 0; i--) {
      if (isAtOrUnder(dir, (this.mounts[i] as { dest: string }).dest)) {
        last = i;
        break;
      }
    }
    if ((this.madeAt.get(dir) ?? -1) > last) return false;
    const over = this.mounts[last];
    if (over === undefined) return !this.exists(dir);
    if (over.source === undefined) return dir !== over.dest;
    const rest = over.dest === '/' ? dir : dir.slice(over.dest.length);
    return !this.exists(over.source === '/' ? rest : over.source + rest);
  }
}

function isAtOrUnder(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}
