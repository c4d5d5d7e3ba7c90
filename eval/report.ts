// What an eval prints and saves: the per-task and overall summaries, the table, the JSON report, and the comparison
// with a baseline report that decides whether this run regressed.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { RunResult, Tokens } from './runner.ts';

/** A task's runs, or all of them, summed up. Costs are list prices in USD. */
export interface Summary {
  runs: number;
  passed: number;
  pass_rate: number;
  cost_usd: number;
  cost_per_run_usd: number;
  tokens: Tokens & { total: number };
  cache_read_ratio: number;
  turns_mean: number;
  tool_calls_mean: number;
  wall_ms_p50: number;
  wall_ms_p95: number;
}

export interface Report {
  version: 1;
  created_at: string;
  base_url: string;
  /** The model of agents whose task names none (`--model`). */
  model: string;
  /** Whether the runtime this run started answered with the scripted model; 'unknown' for `--base-url`. */
  model_kind: 'scripted' | 'external' | 'unknown';
  tasks: Array<{ name: string; summary: Summary; runs: RunResult[] }>;
  totals: Summary;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function summarize(runs: RunResult[]): Summary {
  const sum = (f: (r: RunResult) => number) => runs.reduce((a, r) => a + f(r), 0);
  const tokens = { input: sum((r) => r.tokens.input), output: sum((r) => r.tokens.output), cache_read: sum((r) => r.tokens.cache_read), cache_write: sum((r) => r.tokens.cache_write) };
  const allInput = tokens.input + tokens.cache_read + tokens.cache_write;
  const passed = runs.filter((r) => r.passed).length;
  const cost = sum((r) => r.cost_usd);
  const walls = runs.map((r) => r.wall_ms);
  return {
    runs: runs.length,
    passed,
    pass_rate: runs.length ? passed / runs.length : 0,
    cost_usd: cost,
    cost_per_run_usd: runs.length ? cost / runs.length : 0,
    tokens: { ...tokens, total: allInput + tokens.output },
    cache_read_ratio: allInput ? tokens.cache_read / allInput : 0,
    turns_mean: mean(runs.map((r) => r.turns)),
    tool_calls_mean: mean(runs.map((r) => r.tool_calls)),
    wall_ms_p50: percentile(walls, 50),
    wall_ms_p95: percentile(walls, 95),
  };
}

export function buildReport(results: RunResult[], meta: { baseUrl: string; model: string; modelKind: Report['model_kind'] }): Report {
  const names = [...new Set(results.map((r) => r.task))];
  return {
    version: 1,
    created_at: new Date().toISOString(),
    base_url: meta.baseUrl,
    model: meta.model,
    model_kind: meta.modelKind,
    tasks: names.map((name) => {
      const runs = results.filter((r) => r.task === name);
      return { name, summary: summarize(runs), runs };
    }),
    totals: summarize(results),
  };
}

// ---------- the table ----------

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const usd = (x: number) => `$${x.toFixed(4)}`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** One line per finished run, for the progress display. */
export function runLine(r: RunResult, total: { index: number; of: number }): string {
  const failed = r.error ?? r.checks.filter((c) => !c.passed).map((c) => `${c.type}: ${c.detail}`).join('; ');
  return `[${total.index}/${total.of}] ${r.passed ? 'PASS' : 'FAIL'} ${r.task} #${r.run}  ${secs(r.wall_ms)}  ${usd(r.cost_usd)}${r.passed ? '' : `  ${failed}`}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

/** The per-task table with a totals row. */
export function formatTable(report: Report): string {
  const row = (name: string, s: Summary) => [
    name, `${s.passed}/${s.runs}`, pct(s.pass_rate), usd(s.cost_usd), String(s.tokens.total), pct(s.cache_read_ratio),
    num(s.turns_mean), num(s.tool_calls_mean), secs(s.wall_ms_p50), secs(s.wall_ms_p95),
  ];
  return table([
    ['task', 'passed', 'pass rate', 'cost', 'tokens', 'cache read', 'turns', 'tool calls', 'wall p50', 'wall p95'],
    ...report.tasks.map((t) => row(t.name, t.summary)),
    row('TOTAL', report.totals),
  ]);
}

// ---------- the baseline ----------

export interface Thresholds {
  /** How far (a fraction, 0.05 = 5 points) the overall pass rate may fall. */
  maxPassDrop: number;
  /** How far (a fraction of the baseline's) the overall cost per run may rise. */
  maxCostRise: number;
}

export interface Comparison {
  /** The deltas, one line per task present in both reports and one overall. */
  lines: string[];
  /** What regressed past the thresholds; empty when nothing did. */
  regressions: string[];
}

const signed = (x: number, f: (x: number) => string) => (x >= 0 ? `+${f(x)}` : `-${f(-x)}`);
const points = (x: number) => `${(x * 100).toFixed(1)} pts`;

function deltaLine(name: string, now: Summary, before: Summary): string {
  const costRise = before.cost_per_run_usd > 0 ? ` (${signed(now.cost_per_run_usd / before.cost_per_run_usd - 1, pct)})` : '';
  return `${name}: pass rate ${pct(before.pass_rate)} -> ${pct(now.pass_rate)} (${signed(now.pass_rate - before.pass_rate, points)}), ` +
    `cost/run ${usd(before.cost_per_run_usd)} -> ${usd(now.cost_per_run_usd)}${costRise}, ` +
    `wall p50 ${secs(before.wall_ms_p50)} -> ${secs(now.wall_ms_p50)}`;
}

/** Compares this report with a baseline; only the overall pass rate and cost per run can regress. */
export function compare(report: Report, baseline: Report, thresholds: Thresholds): Comparison {
  const lines: string[] = [];
  for (const t of report.tasks) {
    const before = baseline.tasks.find((b) => b.name === t.name);
    lines.push(before ? deltaLine(t.name, t.summary, before.summary) : `${t.name}: not in the baseline`);
  }
  for (const b of baseline.tasks) if (!report.tasks.some((t) => t.name === b.name)) lines.push(`${b.name}: in the baseline only`);
  lines.push(deltaLine('overall', report.totals, baseline.totals));

  const regressions: string[] = [];
  const drop = baseline.totals.pass_rate - report.totals.pass_rate;
  // a hair of tolerance: rates are ratios of small counts and must not regress on rounding
  if (drop > thresholds.maxPassDrop + 1e-9) {
    regressions.push(`pass rate dropped ${pct(baseline.totals.pass_rate)} -> ${pct(report.totals.pass_rate)} (allowed drop ${points(thresholds.maxPassDrop)})`);
  }
  const before = baseline.totals.cost_per_run_usd;
  if (before > 0 && report.totals.cost_per_run_usd / before - 1 > thresholds.maxCostRise + 1e-9) {
    regressions.push(`cost per run rose ${usd(before)} -> ${usd(report.totals.cost_per_run_usd)} (${signed(report.totals.cost_per_run_usd / before - 1, pct)}, allowed ${pct(thresholds.maxCostRise)})`);
  }
  return { lines, regressions };
}

const SummaryShape = z.looseObject({ pass_rate: z.number(), cost_per_run_usd: z.number(), wall_ms_p50: z.number() });
const ReportShape = z.looseObject({
  totals: SummaryShape,
  tasks: z.array(z.looseObject({ name: z.string(), summary: SummaryShape })),
});

/** Reads a report written by an earlier eval; throws naming the file and the field that is wrong. */
export function readReport(file: string): Report {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read the report: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = ReportShape.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return json as Report;
}
