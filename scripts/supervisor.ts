// Keeps the runtime's children (scripted model, sandbox host, wrangler) running as one: each leads its own process
// group and carries the runtime's tag; all of them are recorded in the state directory; a child that dies or an
// API whose /healthz stops answering is restarted (a bounded number of times) or the whole runtime is stopped with
// the reason. The reaper (scripts/reaper.ts) holds the state directory's lock and stops everything if we die.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import { identify, isAlive, killRuntime, runtimeProcesses } from './process-table.ts';
import type { ReaperNotice } from './reaper.ts';
import { RUNTIME_TAG, runtimeTag, writeRecord } from './runtime-record.ts';

const STOP_GRACE_MS = 5_000;
const TAIL_LINES = 40;
const RESTART_WINDOW_MS = 10 * 60_000;

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

export interface RuntimeExit {
  /** true when stop() ended the runtime; false when a child process died or the API stopped answering. */
  ok: boolean;
  reason: string;
  /** Last lines of the failed child's log (empty when ok). */
  logTail: string;
}

export class RuntimeStartError extends Error {
  readonly logTail: string;
  constructor(message: string, logTail = '') {
    super(message);
    this.name = 'RuntimeStartError';
    this.logTail = logTail;
  }
}

/** How the API's health is watched once it is up. */
export interface HealthPolicy {
  /** Between two checks of `GET /healthz`. Default 2 s. */
  intervalMs: number;
  /** A check that takes longer has failed. Default 10 s. */
  timeoutMs: number;
  /** This many failed checks in a row and wrangler is restarted (or the runtime stopped). Default 3. */
  failures: number;
}

export const DEFAULT_HEALTH: HealthPolicy = { intervalMs: 2_000, timeoutMs: 10_000, failures: 3 };

/** What it takes to (re)start one child; a restart runs the same spec, so it keeps its port, state and secrets. */
export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed (secrets: never argv or the environment). */
  stdin?: string;
  /** Output lines not worth keeping (wrangler logs every request, our health checks included). */
  quiet?: RegExp;
  /** Resolves once a freshly spawned instance serves; rejects with a RuntimeStartError when it does not. */
  ready: (child: Supervised, signal?: AbortSignal) => Promise<void>;
}

export interface Supervised {
  spec: ChildSpec;
  child: ChildProcess;
  log: WriteStream;
  tail: string[];
  /** The first line that reported an error (wrangler prints `✘ [ERROR] …`), and when. */
  error: { line: string; at: number } | undefined;
  /** How the process ended, once it has ("exited with code 1"). */
  ended: string | undefined;
  exit: Promise<string>;
  /** Called with each line of output (after it is logged). */
  lines: Set<(line: string) => void>;
}

/** The state directory's lock, held by the reaper for as long as the reaper lives. */
export interface Reaper {
  runId: string;
  pid: number;
  /** Pids of an earlier runtime's leftovers it stopped before taking the lock. */
  reaped: number[];
  /** Settles when the reaper has exited (and so the lock is free). */
  exit: Promise<string>;
  /** Tells the reaper we are done (closes its pipe) and waits for it to exit. */
  release(): Promise<void>;
}

/**
 * Starts the reaper for `stateDir` and resolves once it holds the lock (having stopped what an earlier runtime
 * left running). Rejects with a RuntimeStartError saying who uses the directory when another runtime does.
 */
export async function startReaper(stateDir: string, logDir: string, nodeBinary: string): Promise<Reaper> {
  const log = createWriteStream(path.join(logDir, 'reaper.log'), { flags: 'a', mode: 0o600 });
  log.on('error', () => {});
  await new Promise((resolve) => log.once('open', resolve));
  // detached: a session of its own, so the terminal's SIGHUP and Ctrl-C reach the supervisor but not the reaper.
  // stdin is its pipe from us: it reads EOF when we are gone, however we went.
  const child = spawn(nodeBinary, [path.join(PROJECT_ROOT, 'scripts', 'reaper.ts'), stateDir], {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', log],
    env: { PATH: process.env.PATH ?? '' },
  });
  child.stdin?.on('error', () => {});
  const exit = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    child.once('error', (error) => resolve(`could not start: ${error.message}`));
  });
  void exit.then(() => log.end());
  const reaped: number[] = [];
  const notices = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
  const outcome = await new Promise<{ runId: string } | { refused: string }>((resolve) => {
    notices.on('line', (line) => {
      let notice: ReaperNotice;
      try {
        notice = JSON.parse(line) as ReaperNotice;
      } catch {
        return;
      }
      if (notice.type === 'reaped') reaped.push(...notice.pids);
      else if (notice.type === 'locked') resolve({ runId: notice.runId });
      else resolve({ refused: notice.message });
    });
    void exit.then((how) => resolve({ refused: `the reaper ${how} before taking the lock of ${stateDir} (see ${path.join(logDir, 'reaper.log')})` }));
  });
  if ('refused' in outcome) {
    child.stdin?.end();
    await exit;
    throw new RuntimeStartError(outcome.refused);
  }
  return {
    runId: outcome.runId,
    pid: child.pid as number,
    reaped,
    exit,
    release: async () => {
      child.stdin?.end();
      await exit;
    },
  };
}

export interface SupervisorOptions {
  stateDir: string;
  reaper: Reaper;
  verbose: boolean;
  /** Restarts allowed within 10 minutes before a failure stops the runtime. */
  restarts: number;
  health: HealthPolicy;
  onStatus: (line: string) => void;
}

/** Stops all children together, restarts one that fails while restarts remain, and otherwise stops the rest. */
export class Supervisor {
  readonly exited: Promise<RuntimeExit>;
  private settle: (exit: RuntimeExit) => void = () => {};
  private stopping: Promise<void> | undefined;
  private restarting = false;
  private failure: RuntimeExit | undefined;
  private readonly children = new Map<string, Supervised>();
  private readonly restartTimes: number[] = [];
  private readonly healthTimer = new AbortController();
  private url: string | undefined;
  // if this process exits without stop() (an uncaught error, process.exit), take the children with it at once;
  // the reaper would too, a moment later
  private readonly killOnExit = (): void => {
    for (const s of this.children.values()) signalGroup(s, 'SIGKILL');
  };

  private readonly o: SupervisorOptions;

  constructor(o: SupervisorOptions) {
    this.o = o;
    this.exited = new Promise((resolve) => { this.settle = resolve; });
    process.on('exit', this.killOnExit);
    // the reaper is the lock: without it another runtime could open the state directory under us
    void o.reaper.exit.then((how) => this.fail(undefined, `the reaper holding the lock of ${o.stateDir} ${how}`));
    this.record();
  }

  /** Spawns a child (recorded before anything else can happen) and waits until it serves. */
  async start(spec: ChildSpec, signal?: AbortSignal): Promise<Supervised> {
    if (this.stopping) throw new RuntimeStartError('the runtime is stopping');
    const s = spawnSupervised(spec, { ...spec.env, [RUNTIME_TAG]: this.o.reaper.runId }, this.o.verbose);
    this.children.set(spec.name, s);
    this.record();
    await spec.ready(s, signal);
    return s;
  }

  /** After start-up: a child's death or an API that stops answering at `url` is handled from here on. */
  watch(url: string): void {
    this.url = url;
    this.record();
    for (const s of this.children.values()) this.watchExit(s);
    void this.watchHealth(url);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.healthTimer.abort();
      await Promise.all([...this.children.values()].map((s) => stopGroup(s)));
      // what a child started and lost (a sandbox launcher whose host was killed) still carries our tag
      await this.stopStrays();
      await Promise.all([...this.children.values()].map((s) => new Promise<void>((resolve) => s.log.end(resolve))));
      await this.o.reaper.release();
      process.off('exit', this.killOnExit);
      this.settle(this.failure ?? { ok: true, reason: 'stopped', logTail: '' });
    })();
    return this.stopping;
  }

  private watchExit(s: Supervised): void {
    void s.exit.then((how) => {
      if (this.children.get(s.spec.name) === s) this.fail(s, `${s.spec.name} ${how}`);
    });
  }

  private async watchHealth(url: string): Promise<void> {
    const { intervalMs, timeoutMs, failures } = this.o.health;
    let failed = 0;
    let last = '';
    while (!this.stopping) {
      try {
        await delay(intervalMs, undefined, { signal: this.healthTimer.signal });
      } catch {
        return; // stopping
      }
      if (this.restarting) {
        failed = 0;
        continue;
      }
      const answer = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) }).then(
        async (response) => {
          await response.body?.cancel();
          return response.status === 200 ? undefined : `answered ${response.status}`;
        },
        (error: unknown) => (error instanceof Error && error.name === 'TimeoutError' ? `did not answer within ${timeoutMs / 1000} s` : 'refused the connection'),
      );
      if (answer === undefined || this.restarting) {
        failed = 0;
        continue;
      }
      failed++;
      last = answer;
      if (failed >= failures) {
        failed = 0;
        this.fail(this.children.get('wrangler'), `${url}/healthz ${last} ${failures} times in a row`);
      }
    }
  }

  /** A child died or the API stopped answering: restart that child while restarts remain, else stop everything. */
  private fail(s: Supervised | undefined, reason: string): void {
    if (this.stopping || this.restarting) return;
    const now = Date.now();
    const recent = this.restartTimes.filter((t) => now - t < RESTART_WINDOW_MS);
    if (!s || recent.length >= this.o.restarts) {
      const gaveUp = this.o.restarts > 0 && s ? ` (restarted ${recent.length} times in the last 10 minutes; giving up)` : '';
      this.failure = { ok: false, reason: `${reason}${gaveUp}`, logTail: s ? logTail(s) : '' };
      void this.stop();
      return;
    }
    this.restartTimes.push(now);
    void this.restart(s, reason, recent.length + 1);
  }

  private async restart(old: Supervised, reason: string, nth: number): Promise<void> {
    this.restarting = true;
    const { name } = old.spec;
    this.o.onStatus(`${reason}: restarting ${name} (restart ${nth} of at most ${this.o.restarts} in 10 minutes)`);
    old.log.write(`=== ${new Date().toISOString()} ${reason}: restarting\n`);
    await stopGroup(old);
    old.log.end();
    if (this.stopping) return;
    await this.stopStrays();
    let fresh: Supervised;
    try {
      fresh = await this.start(old.spec);
    } catch (error) {
      if (this.stopping) return;
      this.restarting = false;
      const why = error instanceof Error ? error.message : String(error);
      this.failure = { ok: false, reason: `${reason}; restarting ${name} failed: ${why}`, logTail: logTail(this.children.get(name) ?? old) };
      void this.stop();
      return;
    }
    this.restarting = false;
    this.watchExit(fresh);
    // wrangler's ready is a healthy /healthz; the others' is their announcement on the same port
    this.o.onStatus(`${name} restarted${name === 'wrangler' && this.url ? `; ${this.url} answers again` : ''}`);
    // a child that died while this one restarted was not handled then (one restart at a time): now it is
    const died = [...this.children.values()].find((c) => c.ended);
    if (died) this.fail(died, `${died.spec.name} ${died.ended}`);
  }

  /** Kills what carries our tag but no longer belongs to a live child. */
  private async stopStrays(): Promise<void> {
    const tag = runtimeTag(this.o.reaper.runId);
    const exclude = [process.pid, this.o.reaper.pid];
    const strays = (): number[] => {
      const live = [...this.children.values()].filter((s) => !s.ended && s.child.pid !== undefined).map((s) => identify(s.child.pid as number));
      const ours = new Set(runtimeProcesses(live, undefined, exclude));
      return runtimeProcesses([], tag, exclude).filter((pid) => !ours.has(pid));
    };
    if (strays().length > 0) await killRuntime(strays, 1_000);
  }

  /** The state directory's record of us: what the reaper stops if we die, and what the next start checks. */
  private record(): void {
    if (!isAlive(identify(this.o.reaper.pid))) return;
    writeRecord(this.o.stateDir, {
      runId: this.o.reaper.runId,
      supervisor: identify(process.pid),
      reaper: identify(this.o.reaper.pid),
      url: this.url,
      children: [...this.children.values()]
        .filter((s) => s.child.pid !== undefined)
        .map((s) => ({ name: s.spec.name, ...identify(s.child.pid as number) })),
    });
  }
}

function spawnSupervised(spec: ChildSpec, env: NodeJS.ProcessEnv, verbose: boolean): Supervised {
  const log = createWriteStream(spec.logFile, { flags: 'a', mode: 0o600 });
  log.on('error', () => {}); // a full disk must not take the runtime down with it
  log.write(`\n=== ${new Date().toISOString()} ${path.basename(spec.command)} ${spec.args.map((a) => path.relative(PROJECT_ROOT, a) || a).join(' ')}\n`);
  // detached: the child leads its own process group, so stopping it also stops workerd under wrangler
  const child = spawn(spec.command, spec.args, { cwd: PROJECT_ROOT, env, detached: true, stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (spec.stdin !== undefined) {
    child.stdin?.on('error', () => {}); // a child that died at once: its exit is reported instead
    child.stdin?.end(spec.stdin);
  }
  const s: Supervised = { spec, child, log, tail: [], error: undefined, ended: undefined, exit: Promise.resolve(''), lines: new Set() };
  s.exit = new Promise((resolve) => {
    const end = (how: string): void => {
      s.ended ??= how;
      resolve(s.ended);
    };
    child.once('exit', (code, signal) => end(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    child.once('error', (error) => end(`could not start: ${error.message}`));
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    stream.setEncoding('utf8'); // a chunk may end inside a multi-byte character
    let partial = '';
    stream.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onChildLine(s, line, verbose);
    });
    stream.on('end', () => {
      if (partial) onChildLine(s, partial, verbose);
      partial = '';
    });
  }
  return s;
}

function onChildLine(s: Supervised, raw: string, verbose: boolean): void {
  // esbuild colours its messages even into a pipe; keep escape codes out of the log
  const line = stripVTControlCharacters(raw).replace(/\r$/, '');
  if (s.spec.quiet?.test(line)) return;
  if (!s.log.writableEnded) s.log.write(`${line}\n`);
  s.tail.push(line);
  if (s.tail.length > TAIL_LINES) s.tail.shift();
  if (!s.error && /\[ERROR\]/.test(line)) s.error = { line: line.trim(), at: Date.now() };
  if (verbose) process.stdout.write(`[${s.spec.name}] ${line}\n`);
  for (const listener of s.lines) listener(line);
}

export function logTail(s: Supervised): string {
  return `--- last lines of ${s.spec.logFile} ---\n${s.tail.join('\n')}`;
}

async function stopGroup(s: Supervised): Promise<void> {
  signalGroup(s, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  const grace = new AbortController();
  // the timer must not outlive the race: it would keep a stopped runtime's process alive for 5 s
  await Promise.race([s.exit, delay(STOP_GRACE_MS, undefined, { signal: grace.signal }).catch(() => {})]);
  grace.abort();
  // the leader may be gone while a grandchild (workerd) is still shutting down
  while (groupAlive(s) && Date.now() < deadline) await delay(50);
  if (groupAlive(s)) signalGroup(s, 'SIGKILL');
  await s.exit;
}

function signalGroup(s: Supervised, signal: NodeJS.Signals): void {
  if (s.child.pid === undefined) return;
  try {
    process.kill(-s.child.pid, signal);
  } catch {
    // ESRCH: the whole group is already gone
  }
}

function groupAlive(s: Supervised): boolean {
  if (s.child.pid === undefined) return false;
  try {
    process.kill(-s.child.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
