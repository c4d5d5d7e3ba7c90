// One session's sandbox as the host sees it: the launcher child (sandbox-runtime + bubblewrap + tool runner),
// the JSON-lines channel to the runner, and what becomes of calls in flight when the sandbox dies or hangs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { redactContent, type SandboxCredential } from '../credentials.ts';
import type { Networking, SandboxStart, ToolOutcome } from '../hands.ts';
import type { LauncherNotice, LauncherOptions, LauncherSecrets, RunnerCall, RunnerMessage } from './runner-protocol.ts';
import { redactSavedOutput } from './saved-output.ts';
import { handOverWorkspace, sandboxUser, type SandboxUser } from './sandbox-user.ts';

const LAUNCHER = path.join(import.meta.dirname, 'launcher.ts');
const READY_TIMEOUT_MS = 60_000;
/** How long past its own timeout a call may take before the host gives up on the runner and stops it. */
const HANG_GRACE_MS = 10_000;
const STOP_GRACE_MS = 3_000;

/** What every session's launcher is told; the workspace and networking are the session's own. */
export type SandboxLaunch = Omit<LauncherOptions, 'workspace' | 'networking' | 'scratch' | 'user'>;

/** What a session's sandbox is started with; a change of either restarts it. */
export interface SandboxSettings {
  networking: Networking;
  credentials: SandboxCredential[];
}

/** Keys the settings digests: a digest of a short secret must not be a way to guess it. */
const DIGEST_KEY = randomBytes(32);

/** Identifies settings without holding the values: compared to decide a restart. */
function settingsDigest(settings: SandboxSettings): string {
  return createHmac('sha256', DIGEST_KEY).update(JSON.stringify([settings.networking, settings.credentials])).digest('hex');
}

interface Pending {
  resolve: (outcome: ToolOutcome) => void;
  notes: string[];
  timer: NodeJS.Timeout;
}

/** One started launcher; replaced by a fresh one after it dies. */
class Runner {
  readonly child: ChildProcess;
  readonly startedAt = new Date();
  readonly settingsDigest: string;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly pending = new Map<number, Pending>();
  dead: string | undefined;
  private nextId = 1;
  private failure: string | undefined;

  constructor(workspace: string, settings: SandboxSettings, launch: SandboxLaunch, user: SandboxUser, logFile: string) {
    const { networking, credentials } = settings;
    this.settingsDigest = settingsDigest(settings);
    const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
    log.on('error', () => {}); // a full disk must not take the host down
    log.write(`\n=== ${new Date().toISOString()} starting the sandbox (${networking.type} networking, ${credentials.length} credential(s))\n`);
    // sandbox-runtime keeps its proxy sockets and mount points in the launcher's TMPDIR: a directory of this
    // runner's own, removed when it ends, so a launcher killed before it could clean up leaves nothing behind
    const scratch = mkdtempSync(path.join(tmpdir(), 'edgeharness-sandbox-'));
    const options: LauncherOptions = { ...launch, workspace, networking, scratch, user };
    // detached: the launcher leads a process group (with sandbox-runtime's socat bridges), stopped as one
    // fd 3: the launcher's notices; fd 4: the credentials, which must not go in argv, the environment or a file
    this.child = spawn(launch.nodeBinary, [LAUNCHER, JSON.stringify(options)], {
      cwd: workspace,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    this.child.stderr?.pipe(log, { end: false });
    this.child.stdin?.on('error', () => {}); // writing to a runner that just died: its exit handler reports it
    const secrets = this.child.stdio[4] as Writable | null;
    secrets?.on('error', () => {}); // a launcher that died before reading: its exit handler reports it
    secrets?.end(`${JSON.stringify(credentials satisfies LauncherSecrets)}\n`);

    let markReady: () => void = () => {};
    let failReady: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => { markReady = resolve; failReady = reject; });
    this.ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection

    lines(this.child.stdout, (line) => {
      let message: RunnerMessage;
      try {
        message = JSON.parse(line) as RunnerMessage;
      } catch {
        log.write(`[runner stdout] ${line}\n`);
        return;
      }
      if (message.type === 'ready') markReady();
      else this.settle(message.id, { content: [{ type: 'text', text: message.text }], isError: message.isError });
    });
    lines(this.child.stdio[3] as Readable | null, (line) => {
      try {
        const notice = JSON.parse(line) as LauncherNotice;
        if (notice.type === 'failed') this.failure = notice.message;
        // a refusal is attributed to every call in flight: the proxy does not know which call made the request
        else for (const p of this.pending.values()) p.notes.push(notice.line);
      } catch {
        log.write(`[launcher notice] ${line}\n`);
      }
    });

    this.exited = new Promise((resolve) => {
      const died = (how: string): void => {
        if (this.dead) return;
        this.dead = this.failure ? `${how}: ${this.failure}` : how;
        failReady(new Error(this.failure ?? `the sandbox ${how} before it was ready (see ${logFile})`));
        for (const id of [...this.pending.keys()]) {
          this.settle(id, errorOutcome(`the sandbox process died while this tool call was running (${this.dead}); the call did not finish. The workspace is kept; the next tool call starts a fresh sandbox.`));
        }
        killGroup(this.child, 'SIGKILL'); // whatever of the group is left (socat bridges)
        rmSync(scratch, { recursive: true, force: true });
        log.end(`=== the sandbox ${how}\n`);
        resolve();
      };
      const how = (code: number | null, signal: NodeJS.Signals | null): string => (signal ? `was killed by ${signal}` : `exited with code ${code}`);
      const later = (ms: number, why: string): void => { setTimeout(() => died(why), ms).unref(); };
      // 'close' comes after the launcher's last notice (why it failed) has been read
      this.child.once('close', (code, signal) => died(how(code, signal)));
      // ...unless something it started still holds the pipes open
      this.child.once('exit', (code, signal) => later(1_000, how(code, signal)));
      this.child.once('error', (error) => died(`could not start: ${error.message}`));
      // the runner's stdout closing is its death even if the launcher lingers
      this.child.stdout?.once('end', () => later(1_000, 'the tool runner closed its channel'));
    });
  }

  run(call: Omit<RunnerCall, 'id'>): Promise<ToolOutcome> {
    if (this.dead) return Promise.resolve(errorOutcome(`the sandbox is not running (${this.dead})`));
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settle(id, errorOutcome(`${call.name} timed out after ${call.timeoutMs} ms and the sandbox did not stop it, so the sandbox was stopped; the workspace is kept.`));
        void this.stop();
      }, call.timeoutMs + HANG_GRACE_MS);
      this.pending.set(id, { resolve, notes: [], timer });
      this.child.stdin?.write(`${JSON.stringify({ ...call, id } satisfies RunnerCall)}\n`);
    });
  }

  async stop(): Promise<void> {
    if (!this.dead) {
      this.child.stdin?.end(); // the runner stops when its stdin closes
      killGroup(this.child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(this.child, 'SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private settle(id: number, outcome: ToolOutcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (p.notes.length > 0) {
      const note = `\n\n[sandbox] the network proxy refused:\n${p.notes.map((n) => `- ${n}`).join('\n')}`;
      outcome = { ...outcome, content: [...outcome.content, { type: 'text', text: note }] };
    }
    p.resolve(outcome);
  }
}

/** A session's sandbox: started on demand, restarted after it dies, stopped when idle. */
export class SessionSandbox {
  private runner: Runner | undefined;
  private starting: Promise<Runner> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  /**
   * Every credential this session's sandbox was given, earlier values included: a call may run on a runner
   * started before a rotation, and an old value may come back from a file the sandbox kept.
   */
  private readonly redactions = new Map<string, SandboxCredential>();
  private readonly workspace: string;
  private readonly logFile: string;
  private readonly launch: SandboxLaunch;
  private readonly idleMs: number;

  /** `logFile` receives the launcher's and the runner's stderr. */
  constructor(o: { workspace: string; logFile: string; launch: SandboxLaunch; idleMs: number }) {
    this.workspace = o.workspace;
    this.logFile = o.logFile;
    this.launch = o.launch;
    this.idleMs = o.idleMs;
  }

  /** `running` while a live runner exists. */
  status(): { status: 'none' | 'running'; started_at: string | null; pid: number | null } {
    const r = this.runner && !this.runner.dead ? this.runner : undefined;
    return { status: r ? 'running' : 'none', started_at: r?.startedAt.toISOString() ?? null, pid: r?.child.pid ?? null };
  }

  /**
   * Starts the runner unless one is alive; rejects (with the reason) when the sandbox cannot start. Answers `cold`
   * when the caller waited for a start (its own, or one already under way), `warm` when a runner was alive.
   */
  async ensureRunning(settings: SandboxSettings, ownCalls = 0): Promise<SandboxStart> {
    for (const c of settings.credentials) this.redactions.set(`${c.credentialId}\0${c.value}`, c);
    const current = this.runner;
    // changed networking or credentials take effect at once when no other call is running, else at the next
    // start (a credential's new value included: the proxy holds the values it was started with)
    if (current && !current.dead && current.settingsDigest !== settingsDigest(settings) && this.inFlight <= ownCalls) {
      this.runner = undefined;
      await current.stop();
    }
    if (this.runner && !this.runner.dead) return 'warm';
    this.starting ??= this.start(settings).finally(() => { this.starting = undefined; });
    await this.starting;
    return 'cold';
  }

  /**
   * Runs one call. Its outcome is redacted of every credential value before it is returned, and so is the
   * whole output the runner saved in the workspace when it truncated the result. A call that reached a runner says
   * whether it had to start one (`sandboxStart`), also when the runner then died under it.
   */
  async run(settings: SandboxSettings, call: Omit<RunnerCall, 'id'>): Promise<ToolOutcome> {
    this.inFlight++;
    clearTimeout(this.idleTimer);
    try {
      const outcome = await this.ensureRunning(settings, 1).then(
        async (start): Promise<ToolOutcome> => ({ ...(await (this.runner as Runner).run(call)), sandboxStart: start }),
        (error: unknown) => errorOutcome(`the sandbox could not start: ${error instanceof Error ? error.message : String(error)}`),
      );
      const credentials = [...this.redactions.values()];
      redactSavedOutput(this.workspace, call.key, credentials);
      return { ...outcome, content: redactContent(outcome.content, credentials) };
    } finally {
      this.inFlight--;
      this.armIdleTimer();
    }
  }

  /** Stops the runner (the workspace stays). Calls in flight end with an error saying the sandbox died. */
  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    await this.starting?.catch(() => {});
    const runner = this.runner;
    this.runner = undefined; // a call arriving meanwhile starts a fresh runner rather than joining this one
    await runner?.stop();
  }

  private async start(settings: SandboxSettings): Promise<Runner> {
    mkdirSync(this.workspace, { recursive: true, mode: 0o700 });
    // where git's global config lives in the sandbox (GIT_CONFIG_GLOBAL, launcher.ts): git does not make its folder
    const gitConfigDir = path.join(this.workspace, '.config', 'git');
    mkdirSync(gitConfigDir, { recursive: true, mode: 0o700 });
    // read at each start, so a wrong EDGEHARNESS_SANDBOX_USER is this call's error, not the host's crash
    const user = sandboxUser();
    handOverWorkspace(this.workspace, user);
    handOverWorkspace(path.dirname(gitConfigDir), user);
    const runner = new Runner(this.workspace, settings, this.launch, user, this.logFile);
    this.runner = runner;
    const timer = setTimeout(() => void runner.stop(), READY_TIMEOUT_MS);
    try {
      await runner.ready;
    } finally {
      clearTimeout(timer);
    }
    this.armIdleTimer();
    return runner;
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.inFlight > 0 || !this.runner || this.runner.dead) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight === 0) void this.stop();
    }, this.idleMs);
    this.idleTimer.unref();
  }
}

function errorOutcome(text: string): ToolOutcome {
  return { content: [{ type: 'text', text }], isError: true };
}

function lines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}
