// The runtime's reaper: a small process of its own (own session, so a closed terminal's SIGHUP and a Ctrl-C pass
// it by) that holds the state directory's lock and reads a pipe from the supervisor. When that pipe closes —
// the supervisor stopped, crashed or was SIGKILLed: Node cannot ask the kernel to kill children with their parent —
// it stops every process of the runtime and only then lets the lock go. At start it first stops whatever a
// previous runtime on the same state directory left running.
// Usage: node scripts/reaper.ts <stateDir>; stdin: the supervisor's pipe; stdout: one JSON line per ReaperNotice.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { isAlive, killRuntime, runtimeProcesses } from './process-table.ts';
import { lockAddress, readRecord, removeRecord, runtimeTag, type RuntimeRecord } from './runtime-record.ts';

/** What the reaper tells the supervisor, one JSON line each, before it goes quiet. */
export type ReaperNotice =
  | { type: 'locked'; runId: string }
  | { type: 'reaped'; pids: number[] }
  | { type: 'busy'; message: string };

/** SIGTERM first, so the sandbox host can stop its sandboxes and wrangler its workerd; SIGKILL after this. */
const GRACE_MS = 2_000;
/** How long a start waits for the reaper of a runtime that just died to finish stopping it. */
const WAIT_FOR_PREVIOUS_MS = 20_000;

const stateDir = process.argv[2];
if (!stateDir) {
  process.stderr.write('reaper: usage: node scripts/reaper.ts <stateDir>\n');
  process.exit(2);
}
const tell = (notice: ReaperNotice): void => { process.stdout.write(`${JSON.stringify(notice)}\n`); };
const log = (line: string): void => { process.stderr.write(`${new Date().toISOString()} reaper ${process.pid}: ${line}\n`); };

// a terminal's hangup or Ctrl-C is for the supervisor to act on; the reaper acts when the supervisor is gone
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

const lock = await takeLock(stateDir);
if (typeof lock === 'string') {
  tell({ type: 'busy', message: lock });
  process.exit(3);
}
const refusal = await clearLeftovers(stateDir);
if (refusal) {
  tell({ type: 'busy', message: refusal });
  process.exit(3);
}
const runId = randomBytes(16).toString('hex');
tell({ type: 'locked', runId });

let reaping = false;
const reap = async (why: string): Promise<void> => {
  if (reaping) return;
  reaping = true;
  const record = readRecord(stateDir);
  const ours = record?.runId === runId ? record : undefined;
  // without a record (the supervisor died before writing one) the tag still names every process it started
  const find = (): number[] => runtimeProcesses(ours?.children ?? [], runtimeTag(runId), [process.pid]);
  const found = find();
  if (found.length > 0) log(`${why}: stopping ${found.length} process(es) of the runtime: ${found.join(' ')}`);
  const refused = await killRuntime(find, GRACE_MS);
  if (refused.length > 0) log(`could not kill ${refused.join(' ')} (not ours to signal)`);
  if (ours) removeRecord(stateDir);
  lock.close();
  process.exit(0);
};
process.stdin.on('end', () => void reap('the supervisor is gone'));
process.stdin.on('error', () => void reap('the supervisor is gone'));
process.stdin.resume();
// `kill <reaper>` means the runtime must stop: the supervisor notices its children dying and reports it
process.on('SIGTERM', () => void reap('SIGTERM'));

/** The lock, or why it cannot be had. A runtime that just died is waited for while its reaper stops it. */
async function takeLock(dir: string): Promise<Server | string> {
  const deadline = Date.now() + WAIT_FOR_PREVIOUS_MS;
  for (;;) {
    const taken = await listenOn(dir);
    if (typeof taken !== 'string') return taken;
    const record = readRecord(dir);
    const finishing = record !== undefined && !isAlive(record.supervisor) && isAlive(record.reaper);
    if (!finishing || Date.now() > deadline) return inUse(dir, record);
    await delay(200);
  }
}

async function listenOn(dir: string): Promise<Server | string> {
  const { address, abstract } = lockAddress(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    const server = createServer((socket) => socket.destroy());
    const outcome = await new Promise<true | NodeJS.ErrnoException>((resolve) => {
      server.once('error', (error) => resolve(error));
      server.listen(address, () => resolve(true));
    });
    if (outcome === true) return server;
    if (outcome.code !== 'EADDRINUSE') return `could not take the lock of ${dir}: ${outcome.message}`;
    // a socket file outlives a crash; one that nobody answers on is stale (an abstract name never is)
    if (abstract || !(await refused(address))) return 'held';
    rmSync(address, { force: true });
  }
  return 'held';
}

function refused(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(address);
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' || error.code === 'ENOENT'));
  });
}

function inUse(dir: string, record: RuntimeRecord | undefined): string {
  const who = record && isAlive(record.supervisor)
    ? `another edgeharness (pid ${record.supervisor.pid}${record.url ? `, serving ${record.url}` : ''})`
    : 'another edgeharness';
  return `${dir} is in use by ${who}; stop it or set EDGEHARNESS_STATE_DIR to another directory`;
}

/**
 * Stops what an earlier runtime on this directory left running (its reaper killed too, say), so that the lock
 * really means nothing else uses the directory. Refuses rather than guess when a recorded process cannot be
 * told from a stranger that reuses its pid (no /proc start times) or cannot be killed.
 */
async function clearLeftovers(dir: string): Promise<string | undefined> {
  const previous = readRecord(dir);
  if (!previous) return undefined;
  if (isAlive(previous.supervisor)) return inUse(dir, previous);
  const find = (): number[] => runtimeProcesses(previous.children, runtimeTag(previous.runId), [process.pid]);
  const left = find();
  if (left.length > 0) {
    if (previous.children.some((c) => c.start === undefined)) {
      return `${dir}: processes of an earlier edgeharness may still run (${previous.children.map((c) => `${c.name} ${c.pid}`).join(', ')}); stop them, then delete ${dir}/runtime.json`;
    }
    log(`stopping ${left.length} process(es) left by an earlier runtime (supervisor ${previous.supervisor.pid}): ${left.join(' ')}`);
    const refusedPids = await killRuntime(find, GRACE_MS);
    if (refusedPids.length > 0) return `${dir}: processes of an earlier edgeharness cannot be stopped (pids ${refusedPids.join(', ')})`;
    tell({ type: 'reaped', pids: left });
  }
  removeRecord(dir);
  return undefined;
}
