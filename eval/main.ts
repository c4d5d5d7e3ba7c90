// `npm run eval`: runs the eval suite against a runtime (the local one it starts, or --base-url), prints a table,
// writes a JSON report and, given a baseline report, fails when the pass rate or the cost regressed.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildReport, compare, formatTable, readReport, runLine } from './report.ts';
import { DEFAULT_MODEL, remoteTarget, runTask, startLocalTarget, type RunResult, type Target } from './runner.ts';
import { readTasks } from './task-spec.ts';

const USAGE = `Usage: npm run eval -- [options]

Runs every task in the suite N times against a runtime and reports pass rate, cost, tokens, cache-read ratio,
turns, tool calls and wall time (docs/eval.md).

Options:
  --tasks DIR            the suite: a folder of task specs (*.json); default eval/tasks
  --filter TEXT          only the tasks whose name contains TEXT
  --runs N               runs per task; default the task's "runs", else 1
  --model ID             the model of agents whose task names none; default ${DEFAULT_MODEL}
  --base-url URL         a running runtime (deployed, or npm start) instead of starting the local one
  --api-key KEY          its API key; default $EDGEHARNESS_API_KEY
  --out FILE             where the JSON report goes; default eval-report.json
  --baseline FILE        an earlier report: print the deltas, exit 1 on a regression past the thresholds
  --max-pass-drop X      how far the overall pass rate may drop, as a fraction (0.05 = 5 points); default 0
  --max-cost-rise X      how far the overall cost per run may rise, as a fraction; default 0.10
  --min-pass-rate X      exit 1 when the overall pass rate is below X (a fraction); without it, failing tasks
                         alone do not make the exit code non-zero
  --turn-timeout SECS    how long one turn may take before its run fails; default 300
  -h, --help             this text

Without --base-url it starts the local runtime on a temporary state dir (removed afterwards), with the scripted
model unless ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL) is set. Rubric checks ask the same model for a verdict;
against --base-url they need ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL.

Exit codes: 0 done; 1 a regression against the baseline, or below --min-pass-rate; 2 bad arguments, a bad task
file or report, or a runtime that could not start.`;

class UsageError extends Error {}

const out = (line: string): void => { process.stdout.write(`${line}\n`); };
// npm runs scripts from the project root; a relative path is meant from where the user typed the command
const userCwd = process.env.INIT_CWD ?? process.cwd();
const fromUser = (p: string) => path.resolve(userCwd, p);

function fraction(flag: string, value: string | undefined, fallback: number, max = 1): number {
  if (value === undefined) return fallback;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || x < 0 || x > max) throw new UsageError(`--${flag}: expected a number from 0 to ${max}, got "${value}"`);
  return x;
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag}: expected a whole number of at least 1, got "${value}"`);
  return n;
}

function parseOptions(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        tasks: { type: 'string' }, filter: { type: 'string' }, runs: { type: 'string' }, model: { type: 'string' },
        'base-url': { type: 'string' }, 'api-key': { type: 'string' }, out: { type: 'string' }, baseline: { type: 'string' },
        'max-pass-drop': { type: 'string' }, 'max-cost-rise': { type: 'string' }, 'min-pass-rate': { type: 'string' },
        'turn-timeout': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const apiKey = values['api-key'] ?? process.env.EDGEHARNESS_API_KEY;
  if (values['base-url'] && !apiKey) throw new UsageError('--base-url needs --api-key (or EDGEHARNESS_API_KEY)');
  return {
    help: values.help ?? false,
    tasksDir: values.tasks ? fromUser(values.tasks) : path.join(import.meta.dirname, 'tasks'),
    filter: values.filter,
    runs: positiveInt('runs', values.runs),
    model: values.model ?? DEFAULT_MODEL,
    remote: values['base-url'] ? { baseUrl: values['base-url'], apiKey: apiKey! } : undefined,
    out: fromUser(values.out ?? 'eval-report.json'),
    baseline: values.baseline ? fromUser(values.baseline) : undefined,
    maxPassDrop: fraction('max-pass-drop', values['max-pass-drop'], 0),
    maxCostRise: fraction('max-cost-rise', values['max-cost-rise'], 0.1, Number.MAX_VALUE),
    minPassRate: values['min-pass-rate'] === undefined ? undefined : fraction('min-pass-rate', values['min-pass-rate'], 0),
    turnTimeoutMs: (positiveInt('turn-timeout', values['turn-timeout']) ?? 300) * 1000,
  };
}

/** One line per finished run; on a terminal, also a line saying what runs now, overwritten as runs finish. */
function progress(total: number) {
  const tty = process.stdout.isTTY === true;
  let index = 0;
  return {
    starting(task: string, run: number) {
      if (tty) process.stdout.write(`\r\x1b[K  running ${task} #${run} (${index + 1}/${total})…`);
    },
    finished(result: RunResult) {
      index++;
      process.stdout.write(`${tty ? '\r\x1b[K' : ''}${runLine(result, { index, of: total })}\n`);
    },
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    out(USAGE);
    return 0;
  }
  const tasks = readTasks(options.tasksDir, options.filter);
  if (tasks.length === 0) throw new UsageError(`no tasks in ${options.tasksDir}${options.filter ? ` whose name contains "${options.filter}"` : ''}`);
  // read before running, so a bad baseline fails in a second rather than after the whole suite
  const baseline = options.baseline ? readReport(options.baseline) : undefined;

  // Ctrl-C stops the runtime this eval started, whether it is still starting or already running
  const starting = new AbortController();
  let target: Target | undefined;
  const stopOnSignal = () => {
    if (!target) return starting.abort(new Error('interrupted'));
    void target.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    target = options.remote
      ? remoteTarget(options.remote.baseUrl, options.remote.apiKey, process.env)
      : await startLocalTarget(process.env, (line) => out(`eval: ${line}`), starting.signal);
  } catch (err) {
    if (starting.signal.aborted) return 130;
    process.stderr.write(`eval: could not start the runtime: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }

  const results: RunResult[] = [];
  try {
    const plan = tasks.flatMap((task) => Array.from({ length: options.runs ?? task.runs ?? 1 }, (_, i) => ({ task, run: i + 1 })));
    out(`eval: ${plan.length} run(s) of ${tasks.length} task(s) against ${target.baseUrl}${target.model === 'scripted' ? ' (scripted model)' : ''}`);
    const shown = progress(plan.length);
    for (const { task, run } of plan) {
      shown.starting(task.name, run);
      const result = await runTask(target, task, run, { model: options.model, turnTimeoutMs: options.turnTimeoutMs });
      results.push(result);
      shown.finished(result);
    }
  } finally {
    await target.stop();
  }

  const report = buildReport(results, { baseUrl: target.baseUrl, model: options.model, modelKind: target.model });
  out('');
  out(formatTable(report));
  out('');
  out(`pass rate: ${(report.totals.pass_rate * 100).toFixed(1)}% (${report.totals.passed}/${report.totals.runs})`);
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  out(`report: ${options.out}`);

  let failed = false;
  if (baseline) {
    const comparison = compare(report, baseline, { maxPassDrop: options.maxPassDrop, maxCostRise: options.maxCostRise });
    out('');
    out(`against ${options.baseline}:`);
    for (const line of comparison.lines) out(`  ${line}`);
    for (const regression of comparison.regressions) out(`REGRESSION: ${regression}`);
    failed = comparison.regressions.length > 0;
  }
  if (options.minPassRate !== undefined && report.totals.pass_rate < options.minPassRate) {
    out(`FAILED: pass rate ${(report.totals.pass_rate * 100).toFixed(1)}% is below --min-pass-rate ${(options.minPassRate * 100).toFixed(1)}%`);
    failed = true;
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  // a bad argument, task file or baseline: what was wrong, without a stack trace
  process.stderr.write(`eval: ${err instanceof Error ? err.message : String(err)}\n`);
  if (err instanceof UsageError) process.stderr.write('Run `npm run eval -- --help` for usage.\n');
  process.exitCode = 2;
}
