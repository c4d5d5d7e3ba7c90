// The run-at-most-once ledger both providers share, against each kind of store it runs on: the in-memory stand-in
// for a Durable Object's storage and the local host's record files.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CallLedger, callKey, INTERRUPTED, type CallLedgerStore } from '../../sandbox/call-ledger.ts';
import type { ToolOutcome } from '../../sandbox/hands.ts';
import { CallRecordFiles } from '../../sandbox/local/call-records.ts';
import { waitFor } from '../support/processes.ts';
import { MemoryCallStore } from './support/memory-call-store.ts';

const ok = (text: string): ToolOutcome => ({ content: [{ type: 'text', text }], isError: false });
const text = (outcome: ToolOutcome): string => outcome.content.map((block) => block.text).join('');

/** A tool run the test finishes when it chooses, counting how often it was started. */
function heldRun(outcome: ToolOutcome) {
  let finish = (): void => {};
  const held = new Promise<void>((resolve) => { finish = resolve; });
  const run = {
    starts: 0,
    finish,
    fn: async (): Promise<ToolOutcome> => {
      run.starts++;
      await held;
      return outcome;
    },
  };
  return run;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const stores: Array<[string, () => CallLedgerStore]> = [
  ['in memory (as in a Durable Object)', () => new MemoryCallStore()],
  [
    'in files (as on the local host)',
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'eh-ledger-'));
      dirs.push(dir);
      return new CallRecordFiles(path.join(dir, 'results'));
    },
  ],
];

describe.each(stores)('the call ledger, records kept %s', (_, newStore) => {
  it('runs a call once and gives every repeat, also from a fresh ledger, the recorded outcome', async () => {
    const store = newStore();
    let runs = 0;
    const run = async (): Promise<ToolOutcome> => ok(`run ${++runs}`);

    const first = await new CallLedger(store).run('sevt_1', 1_000, run);
    const again = await new CallLedger(store).run('sevt_1', 1_000, run);
    const other = await new CallLedger(store).run('sevt_2', 1_000, run);

    expect(first).toEqual(ok('run 1'));
    expect(again).toEqual(first);
    expect(other).toEqual(ok('run 2'));
    expect(runs).toBe(2);
  });

  it('runs concurrent duplicates in one ledger once, and each gets the outcome', async () => {
    // exclusive, as on the local host: only the ledger's own knowledge of its runs tells them from a dead claim
    const ledger = new CallLedger(newStore(), { exclusive: true });
    const run = heldRun(ok('done'));

    const outcomes = [ledger.run('sevt_1', 1_000, run.fn), ledger.run('sevt_1', 1_000, run.fn), ledger.run('sevt_1', 1_000, run.fn)];
    await waitFor('the first run to start', () => run.starts === 1);
    run.finish();

    expect(await Promise.all(outcomes)).toEqual([ok('done'), ok('done'), ok('done')]);
    expect(run.starts).toBe(1);
  });

  it('runs concurrent duplicates from two ledgers on one store (two isolates) once; the second waits for the first', async () => {
    const store = newStore();
    const run = heldRun(ok('done'));
    const first = new CallLedger(store, { pollIntervalMs: 5 });
    const second = new CallLedger(store, { pollIntervalMs: 5 });

    const outcomes = [first.run('sevt_1', 60_000, run.fn), second.run('sevt_1', 60_000, run.fn)];
    await waitFor('the first run to start', () => run.starts === 1);
    let secondSettled = false;
    void outcomes[1]?.then(() => { secondSettled = true; });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(secondSettled).toBe(false); // still waiting: the first run is in flight and its claim is alive
    run.finish();

    expect(await Promise.all(outcomes)).toEqual([ok('done'), ok('done')]);
    expect(run.starts).toBe(1);
  });

  it("reports a call whose claim expired without an outcome (the run died) as interrupted, records that, and never runs it", async () => {
    const store = newStore();
    let clock = 1_000_000;
    const dead = heldRun(ok('never recorded')); // a run whose process died: it never returns
    void new CallLedger(store, { now: () => clock, graceMs: 0 }).run('sevt_1', 1_000, dead.fn);
    await waitFor('the first run to start', () => dead.starts === 1);

    const successor = new CallLedger(store, { now: () => clock, graceMs: 0, pollIntervalMs: 5 });
    let reran = 0;
    const repeat = successor.run('sevt_1', 1_000, async () => ok(`rerun ${++reran}`));
    await new Promise((resolve) => setTimeout(resolve, 20));
    clock += 1_001; // past the claim's expiry: the repeat stops waiting

    expect(await repeat).toEqual(INTERRUPTED);
    expect(text(INTERRUPTED)).toMatch(/interrupted.*not re-run/s);
    expect(await new CallLedger(store, { now: () => clock }).run('sevt_1', 1_000, async () => ok(`rerun ${++reran}`))).toEqual(INTERRUPTED);
    expect(reran).toBe(0);
  });

  it('keeps the interrupted verdict when the run it gave up on finishes after all: the first outcome recorded stands', async () => {
    const store = newStore();
    let clock = 1_000_000;
    const late = heldRun(ok('late'));
    const lateOutcome = new CallLedger(store, { now: () => clock, graceMs: 0 }).run('sevt_1', 1_000, late.fn);
    await waitFor('the first run to start', () => late.starts === 1);
    clock += 2_000;
    expect(await new CallLedger(store, { now: () => clock }).run('sevt_1', 1_000, late.fn)).toEqual(INTERRUPTED);

    late.finish();
    expect(await lateOutcome).toEqual(ok('late')); // its own caller still learns what happened
    expect(await new CallLedger(store, { now: () => clock }).run('sevt_1', 1_000, late.fn)).toEqual(INTERRUPTED);
    expect(late.starts).toBe(1);
  });

  it('when exclusive, reports a call started by an earlier process as interrupted at once, without waiting for its expiry', { timeout: 10_000 }, async () => {
    const store = newStore();
    const clock = 1_000_000;
    const crashed = heldRun(ok('never recorded'));
    void new CallLedger(store, { exclusive: true, now: () => clock }).run('sevt_1', 60 * 60_000, crashed.fn);
    await waitFor('the first run to start', () => crashed.starts === 1);

    // the restarted host's ledger; the claim has an hour to go and the clock does not move
    const restarted = new CallLedger(store, { exclusive: true, now: () => clock, pollIntervalMs: 1 });
    let reran = 0;
    expect(await restarted.run('sevt_1', 1_000, async () => ok(`rerun ${++reran}`))).toEqual(INTERRUPTED);
    expect(await restarted.run('sevt_1', 1_000, async () => ok(`rerun ${++reran}`))).toEqual(INTERRUPTED);
    expect(reran).toBe(0);
  });

  it('still returns an outcome it could not record; a repeat is then told the call was interrupted, never re-runs it', async () => {
    const store = newStore();
    const failing: CallLedgerStore = {
      read: (key) => store.read(key),
      claim: (key, started) => store.claim(key, started),
      finish: async () => { throw new Error('storage unavailable'); },
    };
    let runs = 0;
    const run = async (): Promise<ToolOutcome> => ok(`run ${++runs}`);

    expect(await new CallLedger(failing, { exclusive: true }).run('sevt_1', 1_000, run)).toEqual(ok('run 1'));
    expect(await new CallLedger(store, { exclusive: true }).run('sevt_1', 1_000, run)).toEqual(INTERRUPTED);
    expect(runs).toBe(1);
  });
});

describe('the call ledger', () => {
  it('does not run a call whose claim could not be recorded, and says so', async () => {
    const store = new MemoryCallStore();
    store.failNextClaim = new Error('the Durable Object could not be reached');
    let runs = 0;

    const outcome = await new CallLedger(store).run('sevt_1', 1_000, async () => ok(`run ${++runs}`));

    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toBe('The tool call could not be recorded before it ran (the Durable Object could not be reached), so it did not run.');
    expect(runs).toBe(0);
    // nothing was claimed, so the call may run when asked again
    expect(await new CallLedger(store).run('sevt_1', 1_000, async () => ok(`run ${++runs}`))).toEqual(ok('run 1'));
  });

  it('passes on a run that throws and leaves its claim to expire, so that a repeat never runs it', async () => {
    const store = new MemoryCallStore();
    let clock = 0;
    const ledger = new CallLedger(store, { now: () => clock, graceMs: 0 });
    await expect(ledger.run('sevt_1', 1_000, async () => { throw new Error('runner bug'); })).rejects.toThrow('runner bug');
    clock += 1_001;
    expect(await ledger.run('sevt_1', 1_000, async () => ok('again'))).toEqual(INTERRUPTED);
  });

  it('names a call by its idempotency key, or by a digest when the key is not a safe file name', async () => {
    expect(await callKey('sevt_01ABCxyz')).toBe('sevt_01ABCxyz');
    const unsafe = await callKey('../../etc/passwd');
    expect(unsafe).toMatch(/^key-[0-9a-f]{64}$/);
    expect(await callKey('../../etc/passwd')).toBe(unsafe);
    expect(await callKey('../../etc/passwe')).not.toBe(unsafe);
    expect(await callKey('x'.repeat(101))).toMatch(/^key-/);
  });
});

describe("the local host's record files", () => {
  const newDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'eh-records-'));
    dirs.push(dir);
    return dir;
  };

  it('let one of two claims of a key win, also from two stores on one directory', async () => {
    const dir = newDir();
    const started = { state: 'started' as const, expiresAt: 5 };
    const claims = await Promise.all([new CallRecordFiles(dir).claim('sevt_1', started), new CallRecordFiles(dir).claim('sevt_1', { ...started, expiresAt: 6 })]);
    expect(claims.filter((c) => c === undefined)).toHaveLength(1);
    expect(claims.find((c) => c !== undefined)).toEqual({ state: 'started', expiresAt: 5 });
    expect(readdirSync(dir)).toEqual(['sevt_1.json']); // no temporary file left behind
  });

  it('read the records an earlier host wrote, before claims had an expiry', async () => {
    const dir = newDir();
    writeFileSync(path.join(dir, 'sevt_done.json'), JSON.stringify({ status: 'finished', name: 'bash', started_at: 'a', finished_at: 'b', outcome: ok('old') }));
    writeFileSync(path.join(dir, 'sevt_cut.json'), JSON.stringify({ status: 'started', name: 'bash', started_at: 'a' }));
    const ledger = new CallLedger(new CallRecordFiles(dir), { exclusive: true });
    let runs = 0;
    expect(await ledger.run('sevt_done', 1_000, async () => ok(`run ${++runs}`))).toEqual(ok('old'));
    expect(await ledger.run('sevt_cut', 1_000, async () => ok(`run ${++runs}`))).toEqual(INTERRUPTED);
    expect(runs).toBe(0);
  });

  it('record nothing once retired: a call that outlives its destroyed session leaves no record in the next one', async () => {
    const dir = newDir();
    const files = new CallRecordFiles(dir);
    const run = heldRun(ok('after the session was deleted'));
    const outcome = new CallLedger(files).run('sevt_1', 1_000, run.fn);
    await waitFor('the first run to start', () => run.starts === 1);
    // the host destroys the session: retires its records and removes its directory; a new call makes it anew
    files.retire();
    rmSync(dir, { recursive: true, force: true });
    const next = new CallRecordFiles(dir);
    expect(await new CallLedger(next).run('sevt_2', 1_000, async () => ok('next'))).toEqual(ok('next'));
    run.finish();

    expect(await outcome).toEqual(ok('after the session was deleted'));
    expect(await next.read('sevt_1')).toBeUndefined();
    expect(next.count()).toBe(1);
  });
});
