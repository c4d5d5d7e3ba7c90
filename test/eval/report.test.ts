// The eval runner's pure parts: how checks judge a finished run, and when a report regressed against a baseline.
import { describe, expect, it } from 'vitest';
import { parseProbe, probeCommand, runChecks, type CheckContext } from '../../eval/checks.ts';
import { compare, summarize, type Report } from '../../eval/report.ts';
import type { RunResult } from '../../eval/runner.ts';
import { Check } from '../../eval/task-spec.ts';

function context(over: Partial<CheckContext> = {}): CheckContext {
  return {
    finalAnswer: ' 42\n',
    readFile: async () => null,
    grade: async () => ({ passed: true, explanation: 'satisfied: fine' }),
    ...over,
  };
}

describe('checks', () => {
  const check = (json: unknown) => Check.parse(json);

  it('judges the final answer by equality, substring and pattern, all of those given', async () => {
    const results = await runChecks(
      [
        check({ type: 'final_answer', equals: '42' }),
        check({ type: 'final_answer', contains: '4', matches: '^\\d+$' }),
        check({ type: 'final_answer', equals: '42', contains: '7' }),
      ],
      context(),
    );
    expect(results.map((r) => r.passed)).toEqual([true, true, false]);
    expect(results[2]!.detail).toBe('answer "42" lacks "7"');
  });

  it('judges a file by whether it exists and what it holds', async () => {
    const files: Record<string, string> = { 'answer.txt': '42\n' };
    const ctx = context({ readFile: async (p) => files[p] ?? null });
    const results = await runChecks(
      [
        check({ type: 'file', path: 'answer.txt', contains: '42' }),
        check({ type: 'file', path: 'answer.txt', contains: '43' }),
        check({ type: 'file', path: 'missing.txt' }),
        check({ type: 'file', path: 'missing.txt', exists: false }),
        check({ type: 'file', path: 'answer.txt', exists: false }),
      ],
      ctx,
    );
    expect(results.map((r) => r.passed)).toEqual([true, false, false, true, false]);
    expect(results[2]!.detail).toBe('missing.txt does not exist');
  });

  it('fails a check whose reading or grading throws, saying why, and still runs the others', async () => {
    const ctx = context({ grade: async () => { throw new Error('no grader model'); } });
    const results = await runChecks([check({ type: 'rubric', rubric: 'r' }), check({ type: 'final_answer', equals: '42' })], ctx);
    expect(results).toEqual([
      { type: 'rubric', passed: false, detail: 'check failed to run: no grader model' },
      expect.objectContaining({ type: 'final_answer', passed: true }),
    ]);
  });

  it('reads a file, its absence, or neither off the probe command output', () => {
    expect(probeCommand('a b.txt')).toContain("'a b.txt'");
    expect(parseProbe('EVAL_FILE_PRESENT\n42\n')).toBe('42\n');
    expect(parseProbe('EVAL_FILE_PRESENT\n')).toBe('');
    expect(parseProbe('EVAL_FILE_ABSENT\n')).toBeNull();
    expect(parseProbe('bash: command not found')).toBeUndefined();
  });

  it('refuses a check that could not be judged or could break out of the probe', () => {
    expect(Check.safeParse({ type: 'final_answer' }).error?.issues[0]?.message).toBe('needs equals, contains or matches');
    expect(Check.safeParse({ type: 'final_answer', matches: '(' }).error?.issues[0]).toMatchObject({ path: ['matches'], message: 'not a valid regular expression' });
    expect(Check.safeParse({ type: 'file', path: "x'; rm -rf ~; '" }).success).toBe(false);
  });
});

function run(passed: boolean, cost: number): RunResult {
  return {
    task: 't', run: 1, passed, checks: [], session_id: null, model: 'm', cost_usd: cost,
    tokens: { input: 10, output: 5, cache_read: 30, cache_write: 0 }, cache_read_ratio: 0.75, turns: 2, tool_calls: 1, wall_ms: 100,
  };
}

function report(runs: RunResult[]): Report {
  const summary = summarize(runs);
  return { version: 1, created_at: '', base_url: '', model: 'm', model_kind: 'scripted', tasks: [{ name: 't', summary, runs }], totals: summary };
}

describe('a report against its baseline', () => {
  const thresholds = { maxPassDrop: 0, maxCostRise: 0.1 };

  it('sums tokens and derives the cache-read ratio over all input', () => {
    const s = summarize([run(true, 1), run(false, 3)]);
    expect(s).toMatchObject({ runs: 2, passed: 1, pass_rate: 0.5, cost_usd: 4, cost_per_run_usd: 2, cache_read_ratio: 0.75, turns_mean: 2 });
    expect(s.tokens).toEqual({ input: 20, output: 10, cache_read: 60, cache_write: 0, total: 90 });
  });

  it('names a pass rate that dropped', () => {
    const { regressions } = compare(report([run(true, 1), run(false, 1)]), report([run(true, 1), run(true, 1)]), thresholds);
    expect(regressions).toEqual([expect.stringMatching(/^pass rate dropped 100\.0% -> 50\.0%/)]);
  });

  it('names a cost per run that rose past the threshold, and lets one within it pass', () => {
    expect(compare(report([run(true, 1.2)]), report([run(true, 1)]), thresholds).regressions).toEqual([expect.stringMatching(/^cost per run rose \$1\.0000 -> \$1\.2000 \(\+20\.0%/)]);
    expect(compare(report([run(true, 1.05)]), report([run(true, 1)]), thresholds).regressions).toEqual([]);
  });

  it('allows a drop within --max-pass-drop, and an improvement always', () => {
    const half = report([run(true, 1), run(false, 1)]);
    const full = report([run(true, 1), run(true, 1)]);
    expect(compare(half, full, { ...thresholds, maxPassDrop: 0.5 }).regressions).toEqual([]);
    expect(compare(full, half, thresholds).regressions).toEqual([]);
  });

  it('prints a delta per task and overall', () => {
    const { lines } = compare(report([run(true, 1)]), report([run(true, 1)]), thresholds);
    expect(lines).toEqual([expect.stringMatching(/^t: pass rate 100\.0% -> 100\.0% \(\+0\.0 pts\)/), expect.stringMatching(/^overall: /)]);
  });
});
