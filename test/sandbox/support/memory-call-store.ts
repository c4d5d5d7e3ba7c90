// A call ledger's store in memory, for tests: as atomic as a Durable Object's storage (each method reads and writes
// in one turn of the event loop), and able to hold back or fail its next operations.
import type { CallLedgerStore, CallRecord } from '../../../sandbox/call-ledger.ts';
import type { ToolOutcome } from '../../../sandbox/hands.ts';

export class MemoryCallStore implements CallLedgerStore {
  readonly records = new Map<string, CallRecord>();
  /** Thrown by the next claim, once, when set: a store that cannot be reached. */
  failNextClaim: Error | undefined;

  async read(key: string): Promise<CallRecord | undefined> {
    return this.records.get(key);
  }

  async claim(key: string, started: Extract<CallRecord, { state: 'started' }>): Promise<CallRecord | undefined> {
    const failure = this.failNextClaim;
    this.failNextClaim = undefined;
    if (failure) throw failure;
    const record = this.records.get(key);
    if (record) return record;
    this.records.set(key, started);
    return undefined;
  }

  async finish(key: string, outcome: ToolOutcome): Promise<void> {
    if (this.records.get(key)?.state !== 'done') this.records.set(key, { state: 'done', outcome });
  }
}
