// Where the local host keeps one session's call ledger (../call-ledger.ts): a file per tool call under
// `<session>/results/`, so that no call runs twice, even across a host restart.
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CallLedgerStore, CallRecord } from '../call-ledger.ts';
import type { ToolOutcome } from '../hands.ts';

/** A record as its file holds it, timestamps included for whoever reads the directory. */
type RecordFile =
  | { status: 'started'; started_at: string; expires_at?: number }
  | { status: 'finished'; started_at?: string; finished_at: string; outcome: ToolOutcome };

export class CallRecordFiles implements CallLedgerStore {
  private readonly dir: string;
  private retired = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  async read(key: string): Promise<CallRecord | undefined> {
    const file = this.readFile(key);
    if (file?.status === 'finished') return { state: 'done', outcome: file.outcome };
    // a record of an earlier host has no expiry: it died with that host, which is all the ledger asks
    if (file?.status === 'started') return { state: 'started', expiresAt: file.expires_at ?? 0 };
    return undefined;
  }

  /** Atomic across processes: the record is linked into place, which fails when a record is there. */
  async claim(key: string, started: Extract<CallRecord, { state: 'started' }>): Promise<CallRecord | undefined> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = this.writeTemp(key, { status: 'started', started_at: new Date().toISOString(), expires_at: started.expiresAt });
    try {
      linkSync(tmp, this.file(key));
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return this.read(key);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /** Skipped once the session is destroyed (`retire`), or its directory gone, while the call ran. */
  async finish(key: string, outcome: ToolOutcome): Promise<void> {
    if (this.retired || !existsSync(this.dir)) return;
    const earlier = this.readFile(key);
    if (earlier?.status === 'finished') return;
    const tmp = this.writeTemp(key, { status: 'finished', started_at: earlier?.started_at, finished_at: new Date().toISOString(), outcome });
    renameSync(tmp, this.file(key));
  }

  /** The session is being destroyed: a call still running must not write its record into a directory made anew. */
  retire(): void {
    this.retired = true;
  }

  /** How many calls this session has run (started, whether or not they finished). */
  count(): number {
    try {
      return readdirSync(this.dir).filter((f) => f.endsWith('.json')).length;
    } catch {
      return 0;
    }
  }

  private readFile(key: string): RecordFile | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as RecordFile;
    } catch {
      return undefined; // absent; a torn file cannot exist because records are linked or renamed into place
    }
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  private writeTemp(key: string, record: RecordFile): string {
    const tmp = path.join(this.dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    return tmp;
  }
}
