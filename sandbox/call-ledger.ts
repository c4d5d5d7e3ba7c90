// The run-at-most-once ledger every hands provider keeps: a tool call claims its idempotency key before it runs and
// records its outcome after, so a repeat gets the recorded outcome, waits for the run still in flight, or, when
// that run died, is told so. A call never runs twice. Providers supply the storage; the rules live here alone.
// Web APIs only: the Cloudflare provider runs this in a Worker.
import type { ToolOutcome } from './hands.ts';

/** What the ledger holds for one key. Plain JSON: stores persist it as it is. */
export type CallRecord =
  /** Claimed by a run that has not recorded an outcome; past `expiresAt` (epoch ms) that run counts as dead. */
  | { state: 'started'; expiresAt: number }
  | { state: 'done'; outcome: ToolOutcome };

/**
 * Where one session's records are kept. Each provider keeps them where they outlive its sandboxes: the local host
 * in files, the Cloudflare provider in the session's sandbox Durable Object.
 */
export interface CallLedgerStore {
  /** The key's record, if it has one. */
  read(key: string): Promise<CallRecord | undefined>;
  /**
   * Atomically: the key's record if it has one; otherwise records `started` and answers `undefined`, which makes
   * the caller the key's one run. Two claims of one key must never both answer `undefined`.
   */
  claim(key: string, started: Extract<CallRecord, { state: 'started' }>): Promise<CallRecord | undefined>;
  /** Records the key's outcome unless one is recorded already: the first outcome stands. */
  finish(key: string, outcome: ToolOutcome): Promise<void>;
}

export interface CallLedgerOptions {
  /**
   * True when this ledger is the only runner of its store's calls for as long as it lives (the local sandbox host:
   * one process per state directory). A started call it is not running itself was then cut off when an earlier
   * process died, and is reported at once instead of after its expiry.
   */
  exclusive?: boolean;
  /** Added to a call's timeout for its claim's expiry: how late the provider's transport may still deliver. Default 60 s. */
  graceMs?: number;
  /** Clock for the expiry; tests move it instead of waiting. */
  now?: () => number;
  /** How often a repeat checks whether a run elsewhere has recorded its outcome. Default 1 s. */
  pollIntervalMs?: number;
}

/** What a repeat of a call that died mid-run gets, recorded so that every later repeat gets it too. */
export const INTERRUPTED: ToolOutcome = {
  content: [
    {
      type: 'text',
      text:
        'This tool call was interrupted: it was started earlier and never finished (the sandbox, or the process ' +
        'running it, stopped mid-call). It was not re-run, so that it runs at most once; check its effects before ' +
        'trying again.',
    },
  ],
  isError: true,
};

/** One session's ledger. */
export class CallLedger {
  private readonly store: CallLedgerStore;
  private readonly exclusive: boolean;
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly pollIntervalMs: number;
  /** Runs of this ledger not yet settled: a repeat here shares the promise instead of asking the store. */
  private readonly inFlight = new Map<string, Promise<ToolOutcome>>();

  constructor(store: CallLedgerStore, options: CallLedgerOptions = {}) {
    this.store = store;
    this.exclusive = options.exclusive ?? false;
    this.graceMs = options.graceMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
  }

  /**
   * The outcome of the call under `key`, running `run` only if no run of the key was ever claimed. A repeat gets
   * the recorded outcome; a repeat while the first run is in flight (here, or elsewhere until its claim expires)
   * waits for it; a repeat of a run that died gets `INTERRUPTED`. The outcome `run` returns is recorded as it is,
   * so anything that must not rest in the store (a secret) is removed from it inside `run`.
   *
   * Never rejects because the store failed: a claim that cannot be recorded is an error outcome and nothing runs;
   * an outcome that cannot be recorded is still returned (a repeat will be told the call was interrupted). A
   * rejection of `run` itself is passed on, its claim left to expire.
   */
  run(key: string, timeoutMs: number, run: () => Promise<ToolOutcome>): Promise<ToolOutcome> {
    // synchronous up to the set: two repeats in this process cannot both get past it
    const running = this.inFlight.get(key);
    if (running) return running;
    const settled = this.settle(key, timeoutMs, run).finally(() => {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    });
    this.inFlight.set(key, settled);
    return settled;
  }

  private async settle(key: string, timeoutMs: number, run: () => Promise<ToolOutcome>): Promise<ToolOutcome> {
    let earlier: CallRecord | undefined;
    try {
      // claimed before anything runs: from here on a crash leaves "started", never a second run
      earlier = await this.store.claim(key, { state: 'started', expiresAt: this.now() + timeoutMs + this.graceMs });
    } catch (error) {
      return failure(`The tool call could not be recorded before it ran (${describe(error)}), so it did not run.`);
    }
    if (earlier?.state === 'done') return earlier.outcome;
    if (earlier?.state === 'started') return this.awaitEarlierRun(key, earlier).catch((error: unknown) =>
      failure(`The outcome of this tool call's earlier run could not be read (${describe(error)}); it was not run again.`),
    );

    const outcome = await run();
    try {
      await this.store.finish(key, outcome);
    } catch (error) {
      console.error(`could not record the outcome of tool call ${key}:`, error);
    }
    return outcome;
  }

  /** Waits for a run that is not this ledger's to record its outcome, until its claim expires. */
  private async awaitEarlierRun(key: string, started: CallRecord): Promise<ToolOutcome> {
    let record: CallRecord | undefined = started;
    while (!this.exclusive && record?.state === 'started' && this.now() < record.expiresAt) {
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
      record = await this.store.read(key);
    }
    if (record?.state === 'done') return record.outcome;
    // forgotten meanwhile (the session was destroyed): nothing to record it in
    if (record === undefined) return INTERRUPTED;
    // the run died; whichever of its outcome and this verdict is recorded first stands
    await this.store.finish(key, INTERRUPTED);
    const settled = await this.store.read(key);
    return settled?.state === 'done' ? settled.outcome : INTERRUPTED;
  }
}

/**
 * An idempotency key as the ledger and the sandbox's files name the call: unchanged when it is a safe file name
 * (event ids are), else a digest of it, so distinct keys stay distinct and none can climb out of a directory.
 */
export async function callKey(idempotencyKey: string): Promise<string> {
  if (/^[A-Za-z0-9_-]{1,100}$/.test(idempotencyKey)) return idempotencyKey;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(idempotencyKey));
  return `key-${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function failure(text: string): ToolOutcome {
  return { content: [{ type: 'text', text }], isError: true };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
