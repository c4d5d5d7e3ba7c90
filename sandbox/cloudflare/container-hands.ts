// The Cloudflare provider's hands, written against `SandboxLike` (the few operations of a sandbox Durable Object
// we use) so that everything but the SDK mapping is testable without containers. One sandbox per session.
import {
  DEFAULT_TOOL_TIMEOUT_MS,
  MAX_RESULT_CHARS,
  type Hands,
  type Networking,
  type FileError,
  type MemoryChanges,
  type RepositoryError,
  type SandboxMemoryStore,
  type SandboxSpec,
  type SandboxStart,
  type ToolCall,
  type ToolOutcome,
} from '../hands.ts';
import { CallLedger, callKey, type CallLedgerStore } from '../call-ledger.ts';
import type { RunnerCall } from '../local/runner-protocol.ts';
import { redactContent } from '../credentials.ts';
import type { CloneGrant, VaultRef } from './outbound-handler.ts';
import { STATE_FILE, type PlacedItem, type ResourcePlan, type ResourceReport, type ResourceState } from './resource-plan.ts';

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
   * with the vaults its credentials are read from (ids only: the outbound handler reads the values itself), and,
   * while the platform clones the session's repositories, the grant that lets root's git reach them.
   */
  setNetworking(networking: Networking, vault?: VaultRef, clone?: CloneGrant): Promise<void>;
  /** Runs a shell command in the container, starting one if none runs. Rejects if the container dies or cannot be reached. */
  exec(command: string, options: { timeoutMs: number }): Promise<ExecResult>;
  /** Writes a file as root; `base64`: `content` is the bytes in base64 (binary-safe). */
  writeFile(path: string, content: string, options?: { encoding: 'utf-8' | 'base64' }): Promise<void>;
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
  /**
   * Root's alone too (0700): what the container holds of the session's resources (resource-plan.ts STATE_FILE), the
   * files staged for placing, the plan that carries repository tokens to root's git, and the mark of a container a
   * call has run in (START_MARK).
   */
  stateDir: string;
  /** The container's `/`: where the absolute mount paths of repositories, files and skills are. */
  rootDir: string;
  nodeBinary: string;
  /** `run-one-call.ts`: starts the tool runner, hands it one call, prints its result. */
  oneCall: string;
  /** The local provider's tool runner (`sandbox/local/tool-runner.ts`), run unchanged. */
  toolRunner: string;
  /** `container-resources.ts`: clones repositories and places files and skills, as root. */
  resourceScript: string;
  /** `container-memory.ts`: mounts the session's memory stores before a call and collects their changes after it. */
  memoryScript: string;
  /**
   * The unprivileged user the tools run as, who owns the workspace. The container's control server runs commands
   * as root; each call switches to this user with setpriv. Absent: the runner runs as whoever runs the command.
   */
  sandboxUser?: { uid: number; gid: number };
}

export const IMAGE_LAYOUT: ContainerLayout = {
  workspaceDir: '/workspace',
  callDir: '/opt/edgeharness/calls',
  stateDir: '/opt/edgeharness/state',
  rootDir: '/',
  nodeBinary: 'node',
  oneCall: '/opt/edgeharness/sandbox/cloudflare/run-one-call.ts',
  toolRunner: '/opt/edgeharness/sandbox/local/tool-runner.ts',
  resourceScript: '/opt/edgeharness/sandbox/cloudflare/container-resources.ts',
  memoryScript: '/opt/edgeharness/sandbox/cloudflare/container-memory.ts',
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
  /** Each session's resource setup in this isolate, so that two calls never set up one container at once. */
  const preparing = new Map<string, Promise<unknown>>();

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

  async function provision(spec: SandboxSpec): Promise<SandboxLike> {
    const { sandbox } = handle(spec.sessionId);
    const vault = vaultRefOf(spec);
    const egress = JSON.stringify([spec.networking, vault ?? null]);
    if (configured.get(spec.sessionId) === egress) return sandbox;
    await sandbox.setNetworking(spec.networking, vault);
    await sandbox.exec(workspaceCommand(layout), { timeoutMs: 60_000 });
    configured.set(spec.sessionId, egress);
    return sandbox;
  }

  /** The session's resources set up in its container, one setup at a time per session. */
  function prepare(spec: SandboxSpec, sandbox: SandboxLike): Promise<Prepared> {
    const run = (preparing.get(spec.sessionId) ?? Promise.resolve()).then(() => prepareResources(spec, sandbox, layout));
    preparing.set(spec.sessionId, run.catch(() => {}));
    return run;
  }

  async function runClaimed(spec: SandboxSpec, call: ToolCall, key: string, timeoutMs: number): Promise<ToolOutcome> {
    let sandbox: SandboxLike;
    let prepared: Prepared;
    try {
      sandbox = await provision(spec);
      prepared = await prepare(spec, sandbox);
    } catch (error) {
      configured.delete(spec.sessionId);
      return failure(`The sandbox could not be started (${describe(error)}); the tool did not run.`);
    }
    const { repositoryErrors } = prepared;
    const fileErrors = [...prepared.fileErrors];
    let memory: MountedMemory;
    try {
      memory = await mountMemory(spec, sandbox, layout);
    } catch (error) {
      configured.delete(spec.sessionId);
      return failure(`The sandbox could not mount the session's memory stores (${describe(error)}); the tool did not run.`);
    }
    fileErrors.push(...memory.errors);
    const callFile = `${layout.callDir}/${key}.json`;
    const runnerCall: RunnerCall = { id: 1, name: call.name, input: call.input, key, timeoutMs };
    const wrapperSeconds = Math.ceil((timeoutMs + RUNNER_GRACE_MS) / 1000);
    // A subshell: the SDK runs commands in one long-lived shell, whose working directory must not move.
    const user = layout.sandboxUser;
    const command = [
      '(', startProbe(layout),
      'cd', shellQuote(layout.workspaceDir), '&&',
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
    const sandboxStart = START_LINE.exec(result.stdout)?.[1] as SandboxStart | undefined;
    // collected before the outcome is recorded in the ledger: what the call wrote is saved by the brain from the record
    const collected = await collectMemory(memory, sandbox, layout);
    if ('error' in collected) fileErrors.push(collected.error);
    const memoryChanges = 'changes' in collected ? collected.changes : [];
    return {
      ...outcome,
      ...(sandboxStart ? { sandboxStart } : {}),
      ...(repositoryErrors.length ? { repositoryErrors } : {}),
      ...(fileErrors.length ? { fileErrors } : {}),
      ...(memoryChanges.length ? { memoryChanges } : {}),
    };
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
      preparing.delete(sessionId);
      await sandbox.destroy();
    },
  };
}

/**
 * A placed file is at most this size: its base64 (4/3 of it) must fit in one Workers RPC message to the sandbox's
 * Durable Object (32 MiB), beside the Worker's other memory (128 MB).
 */
export const MAX_PLACED_FILE_BYTES = 16 * 1024 * 1024;

/** Where skills go, each under its name (docs/skills.md). */
const SKILLS_DIR = '/mnt/skills';

/** What setting up a session's resources before a call found wrong, for its outcome. */
interface Prepared {
  repositoryErrors: RepositoryError[];
  fileErrors: FileError[];
}

/** A file of the session to have in the container: a file resource, or one file of a skill. */
interface WantedFile extends PlacedItem {
  read: () => Promise<Uint8Array | null>;
  /** How errors name it (`file file_01…`, `skill pdf (skill_01…, version 3): scripts/run.py`). */
  label: string;
  /** Why it cannot be placed whatever the container holds (a skill file's path that would leave its directory). */
  invalid?: string;
}

/**
 * Brings the container in line with the session's resources before a call: reads what the container holds (its own
 * record, which dies with it), and only when something is missing or no longer listed, stages the missing files'
 * bytes and a plan in root's state directory and runs the resource script as root. Repositories are cloned once per
 * container, before any tool of the session has run in it; files and skills are placed when missing and removed when
 * no longer listed. Each failure is reported by the call that first met it in this container.
 */
async function prepareResources(spec: SandboxSpec, sandbox: SandboxLike, layout: ContainerLayout): Promise<Prepared> {
  const none: Prepared = { repositoryErrors: [], fileErrors: [] };
  const repositories = spec.repositories ?? [];
  if (repositories.length === 0 && spec.files === undefined && spec.skills === undefined) return none;
  const state = await readResourceState(sandbox, layout);
  const wanted = wantedFiles(spec);
  // a kind the spec does not mention is left as it is (SandboxSpec: "Absent: nothing removed")
  const keep: Record<string, string> = {};
  for (const [id, item] of Object.entries(state.placed))
    if ((id.startsWith('file:') && spec.files === undefined) || (id.startsWith('skill:') && spec.skills === undefined)) keep[id] = item.mountPath;
  for (const file of wanted) keep[file.id] = file.mountPath;
  const clones = repositories.filter((r) => !state.repositories[r.resourceId]);
  const missing = wanted.filter((f) => state.placed[f.id]?.mountPath !== f.mountPath && state.failed[f.id] !== f.mountPath);
  const stale = Object.entries(state.placed).some(([id, item]) => keep[id] !== item.mountPath);
  if (clones.length === 0 && missing.length === 0 && !stale) return none;

  const fileErrors: FileError[] = [];
  const plan: ResourcePlan = { repositories: clones, place: [], unplaceable: [], keep };
  const nonce = randomHex(16);
  for (const [i, file] of missing.entries()) {
    const unplaceable = file.invalid ?? (await readWanted(file));
    if (typeof unplaceable === 'string') {
      plan.unplaceable.push(placedItem(file));
      fileErrors.push(fileError(file, unplaceable));
      continue;
    }
    const stage = `stage-${nonce}-${i}`;
    await sandbox.writeFile(`${layout.stateDir}/${stage}`, base64(unplaceable), { encoding: 'base64' });
    plan.place.push({ ...placedItem(file), stage });
  }
  const vault = vaultRefOf(spec);
  if (clones.length > 0) {
    plan.cloneMarker = randomHex(32);
    await sandbox.setNetworking(spec.networking, vault, { marker: plan.cloneMarker, urls: clones.map((r) => r.url) });
  }
  let report: ResourceReport | undefined;
  let why = '';
  try {
    const planFile = `${layout.stateDir}/plan-${nonce}.json`;
    // the plan holds the tokens: root's shell opens it for the script and removes it before the script starts
    await sandbox.writeFile(planFile, JSON.stringify(plan));
    const result = await sandbox.exec(resourceCommand(layout, planFile), { timeoutMs: (clones.length * 10 + 2) * 60_000 });
    report = lastJsonLine(result.stdout) as ResourceReport | undefined;
    if (!report || !Array.isArray(report.repositoryErrors) || !Array.isArray(report.failed)) {
      report = undefined;
      why = `the container's resource script exited (code ${result.exitCode}) without a report${result.stderr.trim() ? `: ${result.stderr.trim().slice(-500)}` : ''}`;
    }
  } finally {
    // the grant ends with the clone, whatever became of it
    if (plan.cloneMarker) await sandbox.setNetworking(spec.networking, vault);
  }
  if (!report) {
    return {
      repositoryErrors: clones.map((r) => ({ type: 'repository_clone_error', message: `${r.url} was not cloned into ${r.mountPath}: ${why}`, repository_url: r.url })),
      fileErrors: [...fileErrors, ...plan.place.map((p) => fileError(missing.find((f) => f.id === p.id)!, why))],
    };
  }
  for (const failed of report.failed) {
    const file = missing.find((f) => f.id === failed.id);
    if (file) fileErrors.push(fileError(file, String(failed.reason)));
  }
  return { repositoryErrors: report.repositoryErrors, fileErrors };
}

/**
 * The container's record of what it holds; an empty one for a fresh container (whose state directory is made).
 * Whatever an earlier setup that failed half-way left behind (staged bytes, a plan with tokens, a clone) is removed
 * first.
 */
async function readResourceState(sandbox: SandboxLike, layout: ContainerLayout): Promise<ResourceState> {
  const dir = shellQuote(layout.stateDir);
  const command = `mkdir -p ${dir} && chmod 700 ${dir} && rm -rf ${dir}/stage-* ${dir}/plan-* ${dir}/clone-* && { cat ${dir}/${STATE_FILE} 2>/dev/null || echo '{}'; }`;
  const result = await sandbox.exec(command, { timeoutMs: 60_000 });
  if (result.exitCode !== 0) throw new Error(`the container's resource record could not be read: ${result.stderr.trim().slice(-500)}`);
  const read = lastJsonLine(result.stdout) as Partial<ResourceState> | undefined;
  return { repositories: read?.repositories ?? {}, placed: read?.placed ?? {}, failed: read?.failed ?? {} };
}

/** The memory stores mounted for a call: the file root keeps them in (for the collect after it), and those mounted. */
interface MountedMemory {
  planFile: string | null;
  stores: SandboxMemoryStore[];
  errors: FileError[];
}

/**
 * Makes each memory store's mount in the container hold the store's memories as they are now: the stores (their
 * memories included) are written to root's state directory, then placed by the memory script, read-only stores as
 * root and read-write ones as the sandbox's user (so root never writes in a directory the agent controls). The file
 * stays until the call's changes are collected. Throws when the container cannot be reached.
 */
async function mountMemory(spec: SandboxSpec, sandbox: SandboxLike, layout: ContainerLayout): Promise<MountedMemory> {
  const stores = spec.memoryStores ?? [];
  if (stores.length === 0) return { planFile: null, stores: [], errors: [] };
  const planFile = `${layout.stateDir}/plan-memory-${randomHex(16)}.json`;
  await sandbox.writeFile(planFile, JSON.stringify(stores));
  const user = layout.sandboxUser;
  const script = (phase: string, as: string[]) =>
    [...as, shellQuote(layout.nodeBinary), shellQuote(layout.memoryScript), 'sync', '--root', shellQuote(layout.rootDir), '--phase', phase, ...(user && phase !== 'user' ? ['--owner', `${user.uid}:${user.gid}`] : []), '<', shellQuote(planFile)].join(' ');
  const command = user ? `${script('root', [])} && ${script('user', switchUser(user))}` : script('all', []);
  const result = await sandbox.exec(command, { timeoutMs: 120_000 });
  const errors = result.stdout
    .split('\n')
    .flatMap((line) => {
      try {
        return (JSON.parse(line) as { errors?: Array<{ storeId: string; message: string }> }).errors ?? [];
      } catch {
        return [];
      }
    });
  const failed = new Set(errors.map((e) => e.storeId));
  if (result.exitCode !== 0) for (const s of stores) failed.add(s.storeId);
  return {
    planFile,
    stores: stores.filter((s) => !failed.has(s.storeId)),
    errors: stores
      .filter((s) => failed.has(s.storeId))
      .map((s) => ({
        type: 'unknown_error' as const,
        message: `memory store ${s.storeId} was not mounted at ${s.mountPath}: ${errors.find((e) => e.storeId === s.storeId)?.message ?? `the memory script exited with code ${result.exitCode}: ${result.stderr.trim().slice(-500)}`}; nothing written there is saved`,
      })),
  };
}

/** What the call changed under the mounted stores, read by the memory script as the sandbox's user; the file goes. */
async function collectMemory(memory: MountedMemory, sandbox: SandboxLike, layout: ContainerLayout): Promise<{ changes: MemoryChanges[] } | { error: FileError }> {
  if (!memory.planFile) return { changes: [] };
  const user = layout.sandboxUser;
  try {
    // only the stores that were mounted: a store that was not would look as if the agent had deleted every memory
    await sandbox.writeFile(memory.planFile, JSON.stringify(memory.stores));
    const command = [
      '(', ...(user ? switchUser(user) : []), shellQuote(layout.nodeBinary), shellQuote(layout.memoryScript), 'collect', '--root', shellQuote(layout.rootDir),
      '<', shellQuote(memory.planFile) + ';', 'code=$?; rm -f', shellQuote(memory.planFile) + '; exit $code)',
    ].join(' ');
    const result = await sandbox.exec(command, { timeoutMs: 120_000 });
    const report = lastJsonLine(result.stdout) as { changes?: MemoryChanges[] } | undefined;
    if (!report || !Array.isArray(report.changes)) throw new Error(`the memory script exited (code ${result.exitCode}) without a report: ${result.stderr.trim().slice(-500)}`);
    return { changes: report.changes };
  } catch (error) {
    return { error: { type: 'unknown_error', message: `what this call wrote under /mnt/memory could not be read back (${describe(error)}); it was not saved` } };
  }
}

/** Root runs the resource script on the plan, which it opens and removes first (the sandbox user sees neither). */
function resourceCommand(layout: ContainerLayout, planFile: string): string {
  const user = layout.sandboxUser;
  return [
    '(exec 3<', shellQuote(planFile), '&& rm -f', shellQuote(planFile), '&&',
    'exec', shellQuote(layout.nodeBinary), shellQuote(layout.resourceScript),
    '--state', shellQuote(layout.stateDir),
    '--root', shellQuote(layout.rootDir),
    '--workspace', shellQuote(layout.workspaceDir),
    ...(user ? ['--owner', `${user.uid}:${user.gid}`] : []),
    '0<&3 3<&-)',
  ].join(' ');
}

/** The session's file resources and every file of its skills, each with where it goes. */
function wantedFiles(spec: SandboxSpec): WantedFile[] {
  const files: WantedFile[] = (spec.files ?? []).map((f) => ({ id: `file:${f.resourceId}`, mountPath: f.mountPath, read: f.read, label: `file ${f.fileId}` }));
  for (const skill of spec.skills ?? []) {
    const dir = `${SKILLS_DIR}/${skill.name}`;
    const badName = !isName(skill.name);
    for (const file of skill.files) {
      const parts = file.path.split('/');
      const invalid = badName
        ? `the skill's name is not a directory name`
        : parts.some((p) => !isName(p)) ? 'the path is not a relative path inside the skill' : undefined;
      files.push({
        id: `skill:${skill.skillId}:${skill.version}:${file.path}`,
        mountPath: `${dir}/${file.path}`,
        pruneUpTo: SKILLS_DIR,
        read: file.read,
        label: `skill ${skill.name} (${skill.skillId}, version ${skill.version}): ${file.path}`,
        ...(invalid ? { invalid } : {}),
      });
    }
  }
  return files;
}

function isName(segment: string): boolean {
  return segment.length > 0 && segment !== '.' && segment !== '..' && !segment.includes('/') && !segment.includes('\0');
}

/** The file's bytes, or why there are none to place. */
async function readWanted(file: WantedFile): Promise<Uint8Array | string> {
  let bytes: Uint8Array | null;
  try {
    bytes = await file.read();
  } catch (error) {
    return `it could not be read (${describe(error)})`;
  }
  if (bytes === null) return "it is no longer in the workspace's files";
  if (bytes.length > MAX_PLACED_FILE_BYTES) return `it is ${bytes.length} bytes, over the Cloudflare sandbox's limit of ${MAX_PLACED_FILE_BYTES}`;
  return bytes;
}

function placedItem(file: WantedFile): PlacedItem {
  return { id: file.id, mountPath: file.mountPath, ...(file.pruneUpTo ? { pruneUpTo: file.pruneUpTo } : {}) };
}

function fileError(file: WantedFile, reason: string): FileError {
  return { type: 'unknown_error', message: `${file.label} was not placed at ${file.mountPath}: ${reason}; the session goes on without it` };
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
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

/** The line a call's command prints first: whether the call is the first to run in its container. */
const START_LINE = /^edgeharness-sandbox-start=(cold|warm)$/m;
/** In the state directory: the mark of a container a call has run in (`startProbe`). */
const START_MARK = 'container-started';

/**
 * Says whether the container is new to tool calls, by a mark only its first call finds missing: the mark is in the
 * container's own filesystem, so it dies with the container, and the isolate's memory of what it configured (which a
 * fresh isolate lacks, and which a container stopped while idle outlives) plays no part. Root's, in root's state
 * directory: the sandbox user can neither make nor remove it.
 */
function startProbe(layout: ContainerLayout): string {
  const mark = shellQuote(`${layout.stateDir}/${START_MARK}`);
  return `if [ -e ${mark} ]; then echo edgeharness-sandbox-start=warm; else mkdir -p -m 700 ${shellQuote(layout.stateDir)} && : > ${mark}; echo edgeharness-sandbox-start=cold; fi;`;
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
