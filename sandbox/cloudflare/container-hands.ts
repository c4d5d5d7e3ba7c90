// The Cloudflare provider's hands, written against `SandboxLike` (the few operations of a sandbox Durable Object
// we use) so that everything but the SDK mapping is testable without containers. One sandbox per session.
import {
  DEFAULT_TOOL_TIMEOUT_MS,
  MAX_RESULT_CHARS,
  type Hands,
  type Networking,
  type FileError,
  type RepositoryError,
  type SandboxRepository,
  type SandboxSpec,
  type ToolCall,
  type ToolOutcome,
} from '../hands.ts';
import { CallLedger, callKey, type CallLedgerStore } from '../call-ledger.ts';
import type { RunnerCall } from '../local/runner-protocol.ts';
import { redactContent } from '../credentials.ts';
import type { VaultRef } from './outbound-handler.ts';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * One session's sandbox: a Durable Object that owns a container. The call ledger's records live in the object's
 * storage, not in the container, because the container (and its filesystem) is cattle: a call must not run twice
 * just because the container that ran it was replaced.
 */
export interface SandboxLike {
  /**
   * Applies the session's egress policy to the container's outbound traffic (kept across container restarts),
   * with the vaults its credentials are read from (ids only: the outbound handler reads the values itself).
   */
  setNetworking(networking: Networking, vault?: VaultRef): Promise<void>;
  /** Runs a shell command in the container, starting one if none runs. Rejects if the container dies or cannot be reached. */
  exec(command: string, options: { timeoutMs: number }): Promise<ExecResult>;
  writeFile(path: string, content: string): Promise<void>;
  /** The session's call records (../call-ledger.ts), in the Durable Object's storage. */
  readonly calls: CallLedgerStore;
  /** Stops the container and forgets the call records. */
  destroy(): Promise<void>;
}

/** Returns the handle of a session's sandbox. Must not start anything: a container starts on the first exec. */
export type OpenSandbox = (sessionId: string) => SandboxLike;

/** Where things are inside the container image (see sandbox/Dockerfile). */
export interface ContainerLayout {
  workspaceDir: string;
  /**
   * Where each call's file is written, by root: a directory root alone may enter (mode 0700). Root's shell hands the
   * file to the runner on its stdin and removes it, so the sandbox user never needs the file's name or ownership;
   * and it cannot plant a link under that name, as it could in a world-writable /tmp, where root's write (and a
   * chown) would follow the link to a file of the link's choosing (/etc/shadow).
   */
  callDir: string;
  nodeBinary: string;
  /** `run-one-call.ts`: starts the tool runner, hands it one call, prints its result. */
  oneCall: string;
  /** The local provider's tool runner (`sandbox/local/tool-runner.ts`), run unchanged. */
  toolRunner: string;
  /**
   * The unprivileged user the tools run as, who owns the workspace. The container's control server runs commands
   * as root; each call switches to this user with setpriv. Absent: the runner runs as whoever runs the command.
   */
  sandboxUser?: { uid: number; gid: number };
}

export const IMAGE_LAYOUT: ContainerLayout = {
  workspaceDir: '/workspace',
  callDir: '/opt/edgeharness/calls',
  nodeBinary: 'node',
  oneCall: '/opt/edgeharness/sandbox/cloudflare/run-one-call.ts',
  toolRunner: '/opt/edgeharness/sandbox/local/tool-runner.ts',
  // the `sandbox` user sandbox/Dockerfile makes
  sandboxUser: { uid: 10001, gid: 10001 },
};

export interface ContainerHandsOptions {
  layout?: ContainerLayout;
  /** Clock for the call ledger's expiry; tests move it instead of waiting. */
  now?: () => number;
  /** How often a repeated call checks whether the first run of its key has finished. */
  pollIntervalMs?: number;
}

// Time beyond a call's own timeout before a started call counts as interrupted: the runner's own timer fires
// first, then the `timeout` wrapper's, then the transport's.
const RUNNER_GRACE_MS = 30_000;
const TRANSPORT_GRACE_MS = 60_000;

export function createContainerHands(openSandbox: OpenSandbox, options: ContainerHandsOptions = {}): Hands {
  const layout = options.layout ?? IMAGE_LAYOUT;
  const now = options.now ?? Date.now;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  // Handles opened in this isolate (opening one starts nothing), each with its session's call ledger (which knows
  // the calls running in this isolate), and the egress policy applied to each. A Worker isolate is short-lived, so
  // this only saves round trips; a container that died is forgotten here so that its successor is configured again.
  const handles = new Map<string, { sandbox: SandboxLike; ledger: CallLedger }>();
  const configured = new Map<string, string>();
  /** Each session's file resources already reported as not placed (this provider does not place files yet). */
  const filesReported = new Map<string, Set<string>>();

  function handle(sessionId: string): { sandbox: SandboxLike; ledger: CallLedger } {
    let opened = handles.get(sessionId);
    if (!opened) {
      const sandbox = openSandbox(sessionId);
      const ledger = new CallLedger(sandbox.calls, { now, pollIntervalMs, graceMs: RUNNER_GRACE_MS + TRANSPORT_GRACE_MS });
      opened = { sandbox, ledger };
      handles.set(sessionId, opened);
    }
    return opened;
  }

  /** `fresh`: this call configured the sandbox for the first time in this Worker (or after it failed). */
  async function provision(spec: SandboxSpec): Promise<{ sandbox: SandboxLike; fresh: boolean }> {
    const { sandbox } = handle(spec.sessionId);
    const vault = vaultRefOf(spec);
    const egress = JSON.stringify([spec.networking, vault ?? null]);
    const before = configured.get(spec.sessionId);
    if (before === egress) return { sandbox, fresh: false };
    await sandbox.setNetworking(spec.networking, vault);
    await sandbox.exec(workspaceCommand(layout), { timeoutMs: 60_000 });
    configured.set(spec.sessionId, egress);
    return { sandbox, fresh: before === undefined };
  }

  async function runClaimed(spec: SandboxSpec, call: ToolCall, key: string, timeoutMs: number): Promise<ToolOutcome> {
    let sandbox: SandboxLike;
    let repositoryErrors: RepositoryError[] = [];
    try {
      const provisioned = await provision(spec);
      sandbox = provisioned.sandbox;
      if (provisioned.fresh) repositoryErrors = notCloned(spec.repositories ?? []);
    } catch (error) {
      configured.delete(spec.sessionId);
      return failure(`The sandbox could not be started (${describe(error)}); the tool did not run.`);
    }
    const callFile = `${layout.callDir}/${key}.json`;
    const runnerCall: RunnerCall = { id: 1, name: call.name, input: call.input, key, timeoutMs };
    const wrapperSeconds = Math.ceil((timeoutMs + RUNNER_GRACE_MS) / 1000);
    // A subshell: the SDK runs commands in one long-lived shell, whose working directory must not move.
    const user = layout.sandboxUser;
    const command = [
      '(cd', shellQuote(layout.workspaceDir), '&&',
      // The credentials' variables hold placeholders; the values are put in by the outbound handler.
      ...runnerEnv(spec, layout),
      // The runner enforces the call's timeout and reports it; `timeout` only catches a runner that hangs.
      'timeout -k 5', String(wrapperSeconds),
      ...(user ? switchUser(user) : []),
      shellQuote(layout.nodeBinary), shellQuote(layout.oneCall),
      '--runner', shellQuote(layout.toolRunner),
      '--workdir', shellQuote(layout.workspaceDir),
      '--max-chars', String(MAX_RESULT_CHARS),
      // opened by root's shell before the user switch: the runner reads the call from that descriptor
      '<', shellQuote(callFile) + ';',
      // the exit status tells a runner stopped by `timeout` (124, 137) from one that answered
      'code=$?; rm -f', shellQuote(callFile) + '; exit $code)',
    ].join(' ');
    let result: ExecResult;
    try {
      await sandbox.writeFile(callFile, JSON.stringify(runnerCall));
      result = await sandbox.exec(command, { timeoutMs: timeoutMs + RUNNER_GRACE_MS + TRANSPORT_GRACE_MS });
    } catch (error) {
      configured.delete(spec.sessionId);
      return failure(
        `The sandbox stopped, or stopped answering, while running this ${call.name} call (${describe(error)}). ` +
          'The call was not retried; the next tool call gets a fresh sandbox, whose workspace starts empty.',
      );
    }
    const outcome = outcomeOf(result, call.name, timeoutMs);
    const fileErrors = notPlaced(spec, filesReported);
    const withRepositories = repositoryErrors.length ? { ...outcome, repositoryErrors } : outcome;
    return fileErrors.length ? { ...withRepositories, fileErrors } : withRepositories;
  }

  return {
    async provision(spec) {
      await provision(spec);
    },

    async execute(spec, call) {
      const timeoutMs = call.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
      try {
        const key = await callKey(call.idempotencyKey);
        // Claimed in the ledger before the container is touched: a repeat of a finished call starts nothing.
        return await handle(spec.sessionId).ledger.run(key, timeoutMs, async () => {
          const ran = await runClaimed(spec, call, key, timeoutMs);
          // Redacted before it is recorded: an echoed secret must not rest in the ledger either.
          return { ...ran, content: redactContent(ran.content, spec.credentials ?? []) };
        });
      } catch (error) {
        // The sandbox's Durable Object could not be opened (a binding missing, say).
        return failure(`The sandbox could not be reached (${describe(error)}); the tool call did not complete.`);
      }
    },

    async destroy(sessionId) {
      const { sandbox } = handle(sessionId);
      handles.delete(sessionId);
      configured.delete(sessionId);
      filesReported.delete(sessionId);
      await sandbox.destroy();
    },
  };
}

/**
 * This provider does not place file resources yet (docs/cloudflare-sandbox.md): each is reported once, by the first
 * call after it was added, so the session says so instead of the file silently missing.
 */
function notPlaced(spec: SandboxSpec, reported: Map<string, Set<string>>): FileError[] {
  let seen = reported.get(spec.sessionId);
  if (!seen) reported.set(spec.sessionId, (seen = new Set()));
  const fresh = (spec.files ?? []).filter((f) => !seen.has(f.resourceId));
  for (const f of fresh) seen.add(f.resourceId);
  return fresh.map((f) => ({
    type: 'unknown_error',
    message: `file ${f.fileId} was not placed at ${f.mountPath}: the Cloudflare sandbox provider does not place session file resources yet; the session goes on without it`,
  }));
}

/**
 * This provider does not clone repositories yet (docs/cloudflare-sandbox.md): each is reported when a sandbox is
 * first set up, so the session says so instead of the repository silently missing.
 */
function notCloned(repositories: SandboxRepository[]): RepositoryError[] {
  return repositories.map((r) => ({
    type: 'repository_clone_error',
    message: `${r.url} was not cloned into ${r.mountPath}: the Cloudflare sandbox provider does not clone session repositories yet; the session goes on without it`,
    repository_url: r.url,
  }));
}

/** The vaults a session's egress reads, when it has credentials. */
function vaultRefOf(spec: SandboxSpec): VaultRef | undefined {
  const vaultIds = [...new Set((spec.credentials ?? []).map((c) => c.vaultId))];
  return vaultIds.length ? { workspaceId: spec.workspaceId, vaultIds } : undefined;
}

/**
 * `env …` for the runner's command line: the sandbox user's home (the workspace, as locally), and each credential's
 * name with its placeholder, never a value.
 */
function runnerEnv(spec: SandboxSpec, layout: ContainerLayout): string[] {
  const assignments = [
    ...(layout.sandboxUser ? [`HOME=${layout.workspaceDir}`] : []),
    ...(spec.credentials ?? []).map((c) => `${c.name}=${c.placeholder}`),
  ];
  return assignments.length === 0 ? [] : ['env', ...assignments.map(shellQuote)];
}

/**
 * Creates the workspace, the sandbox user's alone when there is one, and the directory of call files, root's alone
 * (the image has both; a layout without them gets them here).
 */
function workspaceCommand(layout: ContainerLayout): string {
  const dir = shellQuote(layout.workspaceDir);
  const calls = shellQuote(layout.callDir);
  const user = layout.sandboxUser;
  const workspace = user ? `mkdir -p ${dir} && chown ${user.uid}:${user.gid} ${dir} && chmod 700 ${dir}` : `mkdir -p ${dir}`;
  return `${workspace} && mkdir -p ${calls} && chmod 700 ${calls}`;
}

/**
 * setpriv (util-linux, in the image) in front of the runner: the sandbox user's uid and gid, no supplementary groups,
 * no capabilities to inherit, and no way to gain any through a setuid or file-capability binary. A uid change from
 * root already empties the permitted and effective sets; the bounding set is left as the container gives it (clearing
 * it needs CAP_SETPCAP, which a platform may withhold), which no-new-privs makes moot.
 */
function switchUser(user: { uid: number; gid: number }): string[] {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--no-new-privs', '--'];
}

/** The runner's reply on stdout, or an error outcome saying why there is none. */
function outcomeOf(result: ExecResult, toolName: string, timeoutMs: number): ToolOutcome {
  const reply = lastJsonLine(result.stdout);
  if (reply && reply.type === 'result' && typeof reply.text === 'string' && typeof reply.isError === 'boolean')
    return { content: [{ type: 'text', text: reply.text }], isError: reply.isError };
  // `timeout` exits 124 (137 if it had to SIGKILL) when the runner itself failed to stop the call in time.
  if (result.exitCode === 124 || result.exitCode === 137)
    return failure(`${toolName} did not finish within ${timeoutMs} ms and was stopped.`);
  const stderr = result.stderr.trim().slice(-2_000);
  return failure(`The tool runner exited (code ${result.exitCode}) without a result.${stderr ? `\n${stderr}` : ''}`);
}

function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value: unknown = JSON.parse(lines[i] ?? '');
      if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
    } catch {
      // not JSON: keep looking
    }
  }
  return undefined;
}

function failure(text: string): ToolOutcome {
  return { content: [{ type: 'text', text }], isError: true };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
