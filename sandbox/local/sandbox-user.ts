// Which host user a session's sandbox runs as, and handing its workspace over to that user. Only root can start a
// process as another user, so a host run by an ordinary user sandboxes as that user; a root host uses `nobody`.
import { lchownSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Names the sandbox user when the host runs as root: a login name, or `uid` / `uid:gid`. */
const SANDBOX_USER_VARIABLE = 'EDGEHARNESS_SANDBOX_USER';

/**
 * Root's default: the system's least privileged account. It has a passwd entry, which git and ssh insist on,
 * and owns nothing a sandbox can see (the sandbox sees the system directories and its own workspace only).
 */
const DEFAULT_USER = 'nobody';

export interface SandboxUser {
  uid: number;
  gid: number;
  /** True when the host runs as root and must switch to this user; false when it sandboxes as itself. */
  switches: boolean;
}

interface Identity {
  uid: number;
  gid: number;
}

/**
 * The user this host's sandboxes run as. Throws, naming the variable, when it names no user, names root, or (for a
 * host that is not root) names anyone but the host's own user.
 */
export function sandboxUser(
  env: NodeJS.ProcessEnv = process.env,
  self: Identity = { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 },
  readPasswd: () => string = () => readFileSync('/etc/passwd', 'utf8'),
): SandboxUser {
  const asked = env[SANDBOX_USER_VARIABLE]?.trim() || undefined;
  if (self.uid !== 0) {
    if (asked !== undefined) {
      const wanted = lookUp(asked, readPasswd);
      if (wanted.uid !== self.uid) {
        throw new Error(`${SANDBOX_USER_VARIABLE}=${asked} asks for uid ${wanted.uid}, but the sandbox host runs as uid ${self.uid} and only root can start a process as another user: unset it, or run the host as root`);
      }
    }
    return { ...self, switches: false };
  }
  const user = lookUp(asked ?? DEFAULT_USER, readPasswd);
  if (user.uid === 0 || user.gid === 0) {
    throw new Error(`${SANDBOX_USER_VARIABLE}=${asked ?? DEFAULT_USER} is root (uid ${user.uid}, gid ${user.gid}); the sandbox must run as an unprivileged user`);
  }
  return { ...user, switches: true };
}

/** `name`, `uid` or either followed by `:gid`; a name must be in /etc/passwd, a number need not be. */
function lookUp(spec: string, readPasswd: () => string): Identity {
  const [who = '', group] = spec.split(':');
  const gid = group === undefined ? undefined : Number(group);
  if (gid !== undefined && !isId(gid)) throw new Error(`${SANDBOX_USER_VARIABLE}=${spec}: "${group}" is not a numeric gid`);
  let entries: string[][] = [];
  try {
    entries = readPasswd().split('\n').map((line) => line.split(':'));
  } catch {
    // no /etc/passwd: only numbers can be resolved
  }
  const entry = entries.find((fields) => fields[0] === who || (/^\d+$/.test(who) && fields[2] === who));
  if (/^\d+$/.test(who)) {
    const uid = Number(who);
    if (!isId(uid)) throw new Error(`${SANDBOX_USER_VARIABLE}=${spec}: ${who} is not a valid uid`);
    return { uid, gid: gid ?? (entry ? Number(entry[3]) : uid) };
  }
  if (!entry) throw new Error(`${SANDBOX_USER_VARIABLE}=${spec}: there is no user "${who}" in /etc/passwd`);
  return { uid: Number(entry[2]), gid: gid ?? Number(entry[3]) };
}

function isId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1;
}

/**
 * Makes the workspace the sandbox user's. Workspaces written by a root sandbox (before sandboxes ran as an
 * unprivileged user) are walked once and given over, symlinks included but never followed, without crossing into
 * another filesystem; the top directory goes last, so a walk cut short is done again at the next start. Called
 * while no sandbox of this workspace runs. Entries in `keep` (absolute paths) stay as they are.
 */
export function handOverWorkspace(workspace: string, user: SandboxUser, keep: ReadonlySet<string> = new Set()): void {
  if (!user.switches) return;
  const top = lstatSync(workspace);
  if (top.uid === user.uid && top.gid === user.gid) return;
  const give = (entry: string, device: number): void => {
    const stat = lstatSync(entry);
    if (stat.dev !== device) return;
    if (stat.isDirectory()) for (const name of readdirSync(entry)) give(path.join(entry, name), device);
    // the host's own read-only entries (placed session files and their directories) stay the host's
    if (keep.has(entry)) return;
    if (stat.uid !== user.uid || stat.gid !== user.gid) lchownSync(entry, user.uid, user.gid);
  };
  give(workspace, top.dev);
}
