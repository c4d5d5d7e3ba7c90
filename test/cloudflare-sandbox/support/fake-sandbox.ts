// A stand-in for one session's SessionSandbox Durable Object and its container, on this machine: the call records
// live in memory (like Durable Object storage, it outlives containers); the "container" is a directory standing for
// its `/` plus real child processes, wiped when it dies, as a container's filesystem is.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Networking } from '../../../sandbox/hands.ts';
import type { ContainerLayout, ExecResult, OpenSandbox, SandboxLike } from '../../../sandbox/cloudflare/container-hands.ts';
import type { CloneGrant, VaultRef } from '../../../sandbox/cloudflare/outbound-handler.ts';
import { MemoryCallStore } from '../../sandbox/support/memory-call-store.ts';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../../..');

interface RunningExec {
  child: ChildProcess;
  reject: (error: Error) => void;
}

export class FakeSandbox implements SandboxLike {
  readonly calls = new MemoryCallStore();
  readonly networkingApplied: Networking[] = [];
  /** The vault references handed to egress with each networking (undefined: no credentials). */
  readonly vaultApplied: Array<VaultRef | undefined> = [];
  /** The clone grant handed to egress with each networking (undefined: none). */
  readonly cloneGrants: Array<CloneGrant | undefined> = [];
  /** Every command run, in order. */
  readonly commands: string[] = [];
  /** Every file written, in order (path and content, base64 ones as given). */
  readonly writes: Array<{ path: string; content: string; encoding?: 'utf-8' | 'base64' }> = [];
  containersStarted = 0;
  destroyed = 0;
  /** Awaited before each command runs: a test can hold a command back. */
  beforeExec: (command: string) => Promise<void> = async () => {};
  /** A test can answer a command itself instead of running it here (as a container of the real image would). */
  answer: (command: string) => ExecResult | undefined = () => undefined;
  private running = false;
  private readonly execs = new Set<RunningExec>();

  readonly layout: ContainerLayout;
  /** Stands for the container's /tmp, where every user may write. */
  readonly tmpDir: string;

  constructor(layout: ContainerLayout, tmpDir: string) {
    this.layout = layout;
    this.tmpDir = tmpDir;
  }

  async setNetworking(networking: Networking, vault?: VaultRef, clone?: CloneGrant): Promise<void> {
    this.networkingApplied.push(networking);
    this.vaultApplied.push(vault);
    this.cloneGrants.push(clone);
  }

  async exec(command: string, options: { timeoutMs: number }): Promise<ExecResult> {
    this.ensureContainer();
    await this.beforeExec(command);
    if (!this.running) throw new Error('container is not running');
    this.commands.push(command);
    const answered = this.answer(command);
    if (answered) return answered;
    return new Promise<ExecResult>((resolve, reject) => {
      // its own process group, so that killing the "container" takes every process of the command with it
      const child = spawn('bash', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const running: RunningExec = { child, reject };
      this.execs.add(running);
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
      const timer = setTimeout(() => {
        this.killGroup(child);
        reject(new Error(`exec timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        this.execs.delete(running);
        resolve({ exitCode: code ?? (signal ? 137 : 1), stdout, stderr });
      });
    });
  }

  async writeFile(file: string, content: string, options?: { encoding: 'utf-8' | 'base64' }): Promise<void> {
    this.ensureContainer();
    this.writes.push({ path: file, content, ...(options ? { encoding: options.encoding } : {}) });
    mkdirSync(path.dirname(file), { recursive: true });
    // as the SDK's control server does: base64 is decoded, byte for byte
    writeFileSync(file, options?.encoding === 'base64' ? Buffer.from(content, 'base64') : content);
  }

  async destroy(): Promise<void> {
    this.destroyed++;
    this.killContainer('destroyed');
    this.calls.records.clear();
  }

  /** The container dies: its processes are killed, its filesystem is gone, pending execs reject. */
  killContainer(reason = 'the container exited unexpectedly'): void {
    this.running = false;
    for (const running of this.execs) {
      this.killGroup(running.child);
      running.reject(new Error(reason));
    }
    this.execs.clear();
  }

  /** How many tool calls reached the runner (each call is one run-one-call command). */
  get runnerCalls(): number {
    return this.commands.filter((command) => command.includes('run-one-call.ts')).length;
  }

  private ensureContainer(): void {
    if (this.running) return;
    // a fresh container: nothing but an empty workspace, /tmp and call directory (root's alone, as in the image)
    rmSync(this.layout.rootDir, { recursive: true, force: true });
    for (const dir of [this.layout.workspaceDir, this.tmpDir, this.layout.callDir]) mkdirSync(dir, { recursive: true });
    chmodSync(this.tmpDir, 0o1777);
    chmodSync(this.layout.callDir, 0o700);
    this.running = true;
    this.containersStarted++;
  }

  // `timeout` and the runner's shell each start a process group of their own, so killing the command's group is
  // not enough: a dying container takes every descendant with it.
  private killGroup(child: ChildProcess): void {
    if (child.pid === undefined) return;
    for (const pid of [child.pid, ...descendantsOf(child.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Every live descendant of `pid` (Linux /proc). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may contain spaces, so read after its closing parenthesis
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() ?? -1) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * One FakeSandbox per session, kept across hands instances (as Durable Objects are across Worker isolates). The
 * adapter has one container layout, so all sessions share these directories: run tools in one session per test.
 */
export class FakeSandboxes {
  readonly bySession = new Map<string, FakeSandbox>();
  readonly opened: string[] = [];
  readonly layout: ContainerLayout;
  /** The containers' /tmp, where every user may write. */
  readonly tmpDir: string;

  /**
   * `overrides` change the layout the adapter is given, e.g. the user tools run as. The containers' `/` is
   * `<root>/container`, so a mount path such as /workspace/hello is `<root>/container/workspace/hello`.
   */
  constructor(root: string, overrides: Partial<ContainerLayout> = {}) {
    const slash = path.join(root, 'container');
    this.tmpDir = path.join(slash, 'tmp');
    this.layout = {
      workspaceDir: path.join(slash, 'workspace'),
      callDir: path.join(slash, 'calls'),
      stateDir: path.join(slash, 'state'),
      rootDir: slash,
      nodeBinary: path.join(PROJECT_ROOT, 'node_modules/.bin/node'),
      oneCall: path.join(PROJECT_ROOT, 'sandbox/cloudflare/run-one-call.ts'),
      toolRunner: path.join(PROJECT_ROOT, 'sandbox/local/tool-runner.ts'),
      resourceScript: path.join(PROJECT_ROOT, 'sandbox/cloudflare/container-resources.ts'),
      memoryScript: path.join(PROJECT_ROOT, 'sandbox/cloudflare/container-memory.ts'),
      ...overrides,
    };
  }

  readonly open: OpenSandbox = (sessionId) => {
    this.opened.push(sessionId);
    let sandbox = this.bySession.get(sessionId);
    if (!sandbox) {
      sandbox = new FakeSandbox(this.layout, this.tmpDir);
      this.bySession.set(sessionId, sandbox);
    }
    return sandbox;
  };

  session(sessionId: string): FakeSandbox {
    const sandbox = this.bySession.get(sessionId);
    if (!sandbox) throw new Error(`no sandbox was opened for ${sessionId}`);
    return sandbox;
  }

  killAll(): void {
    for (const sandbox of this.bySession.values()) sandbox.killContainer('test finished');
  }
}

/** The user the "as nobody" tests run the tools as. */
export const NOBODY = { uid: 65534, gid: 65534 };

/**
 * Fakes under `root` with the tools run as nobody, when this machine lets a test do that (as root, with the checkout
 * readable to nobody); undefined otherwise, for the test to skip. Opens `root` to others (0711) so nobody reaches in.
 */
export function asNobody(root: string): FakeSandboxes | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const probe = path.join(PROJECT_ROOT, 'node_modules', '@anthropic-ai', 'sdk', 'package.json');
  const reachable = spawnSync('setpriv', [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', 'test', '-r', probe]);
  if (reachable.status !== 0) return undefined;
  chmodSync(root, 0o711);
  return new FakeSandboxes(root, { sandboxUser: NOBODY });
}
