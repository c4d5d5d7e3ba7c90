// End to end: `npm run eval` (eval/main.ts as a child process) runs the bundled suite against the local runtime it
// starts with the scripted model and passes it; a baseline whose pass rate is higher makes it exit 1 naming the
// regression; a task file that breaks the spec stops it before anything runs, naming the file and the field.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node eval/main.ts ARGS` with a model configuration of the test's choosing (none: the scripted model). */
function runEval(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  const base = { ...process.env };
  delete base.ANTHROPIC_API_KEY;
  delete base.ANTHROPIC_BASE_URL;
  delete base.EDGEHARNESS_API_KEY;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'eval/main.ts'), ...args], { cwd: ROOT, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run eval', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eh-eval-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const reportFile = path.join(dir, 'report.json');

  it('passes the bundled suite with the scripted model, prints the pass rate and writes the report', async () => {
    const run = await runEval(['--out', reportFile]);
    expect(run.stderr).not.toMatch(/^eval:/m);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('pass rate: 100.0% (4/4)');
    expect(run.stdout).toMatch(/^\[4\/4\] PASS /m);

    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    expect(report.model_kind).toBe('scripted');
    expect(report.tasks.map((t: { name: string }) => t.name)).toEqual(['direct-answer', 'multi-turn', 'rubric', 'write-file']);
    expect(report.totals).toMatchObject({ runs: 4, passed: 4, pass_rate: 1 });
    for (const key of ['cost_usd', 'cost_per_run_usd', 'cache_read_ratio', 'turns_mean', 'tool_calls_mean', 'wall_ms_p50', 'wall_ms_p95']) {
      expect(report.totals[key], key).toEqual(expect.any(Number));
    }
    expect(report.totals.cost_usd).toBeGreaterThan(0);
    expect(report.totals.tokens.total).toBeGreaterThan(0);
    // the tool tasks call bash, and the multi-turn one reads back what its first turn wrote
    const multi = report.tasks.find((t: { name: string }) => t.name === 'multi-turn').runs[0];
    expect(multi).toMatchObject({ passed: true, tool_calls: 2, session_id: expect.stringMatching(/^sesn_/) });
    expect(multi.checks).toEqual([
      expect.objectContaining({ type: 'final_answer', passed: true }),
      expect.objectContaining({ type: 'file', passed: true }),
    ]);
  });

  describe('against a running runtime (--base-url)', () => {
    // one runtime for both runs, rather than one each
    const e2e = suiteFixture(() => startScriptedRuntime('eval'), (run) => run.stop());
    const remote = () => ['--base-url', e2e.runtime.url, '--api-key', e2e.runtime.apiKey];

    it('exits 1 naming the pass rate when it falls below the baseline', async () => {
      // a suite of two passing tasks and a failing one, measured against the full-marks report of the first test
      const tasks = path.join(dir, 'tasks');
      mkdirSync(tasks);
      for (const name of ['direct-answer.json', 'rubric.json']) cpSync(path.join(ROOT, 'eval/tasks', name), path.join(tasks, name));
      writeFileSync(path.join(tasks, 'wrong-answer.json'), JSON.stringify({
        name: 'wrong-answer',
        agent: {},
        messages: ['What is 6 times 7? [[reply:41]]'],
        checks: [{ type: 'final_answer', equals: '42' }],
      }));
      // the rubric's grader: the model behind the runtime, which an eval against --base-url learns from ANTHROPIC_BASE_URL
      const run = await runEval([...remote(), '--tasks', tasks, '--baseline', reportFile, '--out', path.join(dir, 'second.json')], { ANTHROPIC_BASE_URL: e2e.model.url });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^\[\d\/3\] PASS rubric #1 /m);
      expect(run.stdout).toMatch(/^\[\d\/3\] FAIL wrong-answer #1 .*answer "41" is not "42"/m);
      expect(run.stdout).toContain('pass rate: 66.7% (2/3)');
      expect(run.stdout).toMatch(/^ {2}direct-answer: pass rate 100\.0% -> 100\.0%/m);
      expect(run.stdout).toMatch(/^REGRESSION: pass rate dropped 100\.0% -> 66\.7%/m);

      // a drop within --max-pass-drop is none: the failing task alone (0%) against that run (66.7%)
      const tolerated = await runEval([...remote(), '--tasks', tasks, '--filter', 'wrong', '--baseline', path.join(dir, 'second.json'), '--max-pass-drop', '0.7', '--max-cost-rise', '100', '--out', path.join(dir, 'third.json')]);
      expect(tolerated.stdout).not.toContain('REGRESSION:');
      expect(tolerated.code).toBe(0);
    });
  });

  it('refuses a task file that breaks the spec, naming the file and the field', async () => {
    const bad = path.join(dir, 'bad-tasks');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'broken.json'), JSON.stringify({ name: 'broken', agent: {}, messages: [], checks: [{ type: 'file' }] }));
    const run = await runEval(['--tasks', bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path.join(bad, 'broken.json')}: `);
    expect(run.stderr).toMatch(/messages: /);
    expect(run.stderr).toMatch(/checks\[0\]\.path: /);
    expect(run.stdout).not.toContain('eval: starting');
  });

  it('prints its usage', async () => {
    const run = await runEval(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npm run eval/);
    expect(run.stdout).toContain('--baseline FILE');
    expect(run.stdout).toContain('--min-pass-rate');
  });
});
