// The state directory's record of the runtime using it (`<state>/runtime.json`): the supervisor, its reaper and
// every child, each by pid and start time, and the tag all of them carry; plus the lock that makes one runtime
// per state directory a fact of the kernel rather than of a file a killed process leaves behind.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProcessIdentity } from './process-table.ts';

const RECORD_FILE = 'runtime.json';
/** Every process of a runtime inherits `${RUNTIME_TAG}=<runId>`: how its strays are found once their parent is gone. */
export const RUNTIME_TAG = 'EDGEHARNESS_RUNTIME_ID';

export interface RecordedChild extends ProcessIdentity {
  name: string;
}

export interface RuntimeRecord {
  runId: string;
  supervisor: ProcessIdentity;
  reaper: ProcessIdentity;
  /** The API's URL, for the message a second start prints. */
  url: string | undefined;
  /** Each leads its own process group. */
  children: RecordedChild[];
}

export function readRecord(stateDir: string): RuntimeRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path.join(stateDir, RECORD_FILE), 'utf8')) as Partial<RuntimeRecord>;
    if (typeof parsed.runId !== 'string' || !parsed.supervisor || !parsed.reaper || !Array.isArray(parsed.children)) return undefined;
    return { runId: parsed.runId, supervisor: parsed.supervisor, reaper: parsed.reaper, url: parsed.url, children: parsed.children };
  } catch {
    return undefined; // none, or torn by a crash of an older version: nothing to go on
  }
}

/** Written whole or not at all: the reaper may read it at any moment, the supervisor being killed mid-write. */
export function writeRecord(stateDir: string, record: RuntimeRecord): void {
  const file = path.join(stateDir, RECORD_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeRecord(stateDir: string): void {
  rmSync(path.join(stateDir, RECORD_FILE), { force: true });
}

export function runtimeTag(runId: string): string {
  return `${RUNTIME_TAG}=${runId}`;
}

/**
 * Where the state directory's lock listens. On Linux an abstract Unix socket: the kernel frees the name when the
 * last process holding it dies, however it dies, so no stale lock is ever left to be guessed about. Elsewhere a
 * socket file in the temp directory, which a crash leaves behind (the reaper then checks that nobody answers).
 * Named by a digest of the directory's real path, so two spellings of one directory share one lock.
 */
export function lockAddress(stateDir: string): { address: string; abstract: boolean } {
  let real = stateDir;
  try {
    real = realpathSync(stateDir);
  } catch {
    // not created yet: the path as given
  }
  const digest = createHash('sha256').update(real).digest('hex').slice(0, 32);
  if (process.platform === 'linux') return { address: `\0edgeharness-state-${digest}`, abstract: true };
  return { address: path.join(tmpdir(), `edgeharness-state-${digest}.sock`), abstract: false };
}
