// The messages between the host and a session's sandbox: JSON lines over the tool runner's stdin/stdout, the
// launcher's notices on its fd 3, and the session's credentials on its fd 4. Types only, so the runner can
// `import type` it from inside the sandbox.
import type { SandboxCredential } from '../credentials.ts';
import type { Networking } from '../hands.ts';
import type { SandboxUser } from './sandbox-user.ts';

/** Host → runner: run one tool call. */
export interface RunnerCall {
  id: number;
  name: string;
  input: Record<string, unknown>;
  /** The call's idempotency key, made safe for a file name: names the file a truncated output is saved in. */
  key: string;
  timeoutMs: number;
}

/** Runner → host. `ready` once the toolset is loaded; one `result` per call. */
export type RunnerMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; text: string; isError: boolean };

/** Launcher → host, on fd 3: what the proxy refused, or why the sandbox could not start. */
export type LauncherNotice =
  | { type: 'violation'; line: string }
  | { type: 'failed'; message: string };

/**
 * Host → launcher, on fd 4: one JSON line, then the end of the pipe. The values travel only here, never in
 * argv, the environment or a file; the launcher reads them before anything else and closes the fd.
 */
export type LauncherSecrets = SandboxCredential[];

/** What the launcher is told, as one JSON argument (visible in the process list: no secrets). */
export interface LauncherOptions {
  workspace: string;
  hiddenState: string[];
  projectRoot: string;
  toolRunner: string;
  nodeBinary: string;
  maxResultChars: number;
  networking: Networking;
  /** The launcher's own TMPDIR, where sandbox-runtime keeps its proxy sockets; removed when it ends. */
  scratch: string;
  /** Who the sandboxed command runs as (the host decides, and gives it the workspace). */
  user: SandboxUser;
}
