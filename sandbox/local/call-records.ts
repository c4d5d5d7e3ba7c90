// One session's idempotency records: a file per tool call under `<session>/results/`, written "started" before the
// call runs and "finished" with its outcome after, so no call ever runs twice, even across a host restart.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ToolOutcome } from '../hands.ts';

export type CallRecord =
  | { status: 'started'; name: string; started_at: string }
  | { status: 'finished'; name: string; started_at: string; finished_at: string; outcome: ToolOutcome };

/** An idempotency key as a file name: kept when already safe (event ids are), else its SHA-256. */
export function fileKey(idempotencyKey: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(idempotencyKey)
    ? idempotencyKey
    : `sha256-${createHash('sha256').update(idempotencyKey).digest('hex')}`;
}

export class CallRecords {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  read(key: string): CallRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as CallRecord;
    } catch {
      return undefined; // absent; a torn file cannot exist because writes are renames
    }
  }

  started(key: string, name: string): CallRecord {
    const record: CallRecord = { status: 'started', name, started_at: new Date().toISOString() };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.write(key, record);
    return record;
  }

  /** Skipped when the session's directory is gone (the session was destroyed while the call ran). */
  finished(key: string, started: CallRecord, outcome: ToolOutcome): void {
    if (!existsSync(this.dir)) return;
    this.write(key, { status: 'finished', name: started.name, started_at: started.started_at, finished_at: new Date().toISOString(), outcome });
  }

  /** How many calls this session has run (started, whether or not they finished). */
  count(): number {
    try {
      return readdirSync(this.dir).filter((f) => f.endsWith('.json')).length;
    } catch {
      return 0;
    }
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  /** Atomic: a reader sees the old record or the new one, never half of one. */
  private write(key: string, record: CallRecord): void {
    const tmp = path.join(this.dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, this.file(key));
  }
}
