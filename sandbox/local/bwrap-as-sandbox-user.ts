// Stands in for bubblewrap (sandbox-runtime's `bwrapPath`) when the sandbox host runs as root: runs the real bwrap
// with its arguments rewritten by bwrap-drop.ts, so that the sandboxed command runs as the sandbox user, and ends as
// bwrap ends. The launcher writes a two-line script that execs this with the user and the binaries' paths.
// Usage: node bwrap-as-sandbox-user.ts <uid> <gid> <bwrap> <setpriv> <workspace's mnt> [bwrap arguments…]
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, lstatSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { dropToSandboxUser, RUNTIME_TAG } from './bwrap-drop.ts';

const [uid, gid, bwrap, setpriv, mntArg, ...given] = process.argv.slice(2);

function fail(message: string): never {
  process.stderr.write(`bwrap-as-sandbox-user: ${message}\n`);
  process.exit(1);
}

if (!uid || !gid || !bwrap || !setpriv || mntArg === undefined) fail("usage: bwrap-as-sandbox-user.ts <uid> <gid> <bwrap> <setpriv> <workspace's mnt or ''> [bwrap arguments…]");

/**
 * The workspace's mnt, to be bound at /mnt, when it is a real directory now: no sandbox of the session runs while
 * this one starts, so nothing can swap it for a symlink before bwrap binds it.
 */
function realDirectory(dir: string): string | undefined {
  try {
    return dir !== '' && lstatSync(dir).isDirectory() ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * sandbox-runtime moves a long mount list into a file it opens on an fd and names with `--args <fd>`; those words
 * are rewritten like the rest, so they are read here and handed on through a pipe.
 */
function expandArgsFile(args: readonly string[]): { args: string[]; argsFd?: number } {
  const at = args.indexOf('--args');
  if (at < 0 || args.slice(0, at).includes('--')) return { args: [...args] };
  const fd = Number(args[at + 1]);
  if (!Number.isInteger(fd) || fd < 0) fail(`--args ${args[at + 1]} is not a file descriptor`);
  const words = readFileSync(fd, 'utf8').split('\0');
  closeSync(fd);
  if (words.at(-1) === '') words.pop();
  return { args: [...args.slice(0, at), ...words, ...args.slice(at + 2)], argsFd: fd };
}

const expanded = expandArgsFile(given);
let dropped: ReturnType<typeof dropToSandboxUser>;
try {
  dropped = dropToSandboxUser(expanded.args, { uid: Number(uid), gid: Number(gid), setpriv, exists: existsSync, mnt: realDirectory(mntArg) });
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

// Mount points and the sandbox's own files are made with this umask: the modes bwrap asks for, readable by the user.
process.umask(0o022);

const argv = dropped.args;
const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
for (const fd of dropped.fds) stdio[fd] = fd;
if (expanded.argsFd !== undefined) {
  // everything up to the command goes through the pipe, as it came: the command line stays short
  const split = argv.indexOf('--');
  const words = argv.splice(0, split, '--args', String(expanded.argsFd));
  stdio[expanded.argsFd] = 'pipe';
  for (let n = 3; n < expanded.argsFd; n++) stdio[n] ??= 'ignore';
  const pipe = startBwrap(argv, stdio).stdio[expanded.argsFd] as Writable | null;
  pipe?.on('error', () => {}); // bwrap died before reading: its exit is reported
  pipe?.end(Buffer.from(words.map((w) => `${w}\0`).join(''), 'utf8'));
} else {
  for (let n = 3; n < stdio.length; n++) stdio[n] ??= 'ignore';
  startBwrap(argv, stdio);
}

function startBwrap(args: string[], stdio: StdioOptions): ReturnType<typeof spawn> {
  // the runtime's tag is for finding this process; the sandbox inherits bwrap's environment and has no use for it
  const env = { ...process.env };
  delete env[RUNTIME_TAG];
  const child = spawn(bwrap as string, args, { stdio, env });
  // Orphaned (the launcher was killed on its own, by the OOM killer say): end, and bwrap's --die-with-parent takes
  // the sandbox along, rather than leave it running unseen with the workspace mounted.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) child.kill('SIGKILL');
  }, 500).unref();
  // bwrap's --die-with-parent ties the sandbox to this process; signals meant for bwrap are handed on
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.once('error', (error) => fail(`could not run ${bwrap}: ${error.message}`));
  child.once('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
  return child;
}
