// The success checks of an eval task: the final answer, a file in the session's workspace, and a rubric a grader
// model judges. A run passes when every check does.
import Anthropic from '@anthropic-ai/sdk';
import type { Check } from './task-spec.ts';

export interface CheckResult {
  type: Check['type'];
  passed: boolean;
  /** Why it failed, or what the grader said; short enough for a table. */
  detail: string;
}

/** What the checks need of a finished run: its answer, a way to read a workspace file, and a grader. */
export interface CheckContext {
  finalAnswer: string;
  /** The file's content, or null when it does not exist (eval/runner.ts reads it through the agent's bash tool). */
  readFile(path: string): Promise<string | null>;
  /** A grader's verdict on `answer` against `rubric`. */
  grade(rubric: string, answer: string): Promise<{ passed: boolean; explanation: string }>;
}

export async function runChecks(checks: Check[], ctx: CheckContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await runCheck(check, ctx));
  return results;
}

async function runCheck(check: Check, ctx: CheckContext): Promise<CheckResult> {
  try {
    switch (check.type) {
      case 'final_answer':
        return { type: check.type, ...checkAnswer(check, ctx.finalAnswer) };
      case 'file':
        return { type: check.type, ...checkFile(check, await ctx.readFile(check.path)) };
      case 'rubric': {
        const verdict = await ctx.grade(check.rubric, ctx.finalAnswer);
        return { type: check.type, passed: verdict.passed, detail: verdict.explanation };
      }
    }
  } catch (err) {
    return { type: check.type, passed: false, detail: `check failed to run: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const clip = (s: string, n = 60): string => (s.length > n ? `${s.slice(0, n)}…` : s);

function checkAnswer(check: Extract<Check, { type: 'final_answer' }>, answer: string): Omit<CheckResult, 'type'> {
  // the answer as the user reads it: surrounding whitespace is not part of it
  const text = answer.trim();
  if (check.equals !== undefined && text !== check.equals.trim()) return { passed: false, detail: `answer ${JSON.stringify(clip(text))} is not ${JSON.stringify(check.equals)}` };
  if (check.contains !== undefined && !text.includes(check.contains)) return { passed: false, detail: `answer ${JSON.stringify(clip(text))} lacks ${JSON.stringify(check.contains)}` };
  if (check.matches !== undefined && !new RegExp(check.matches).test(text)) return { passed: false, detail: `answer ${JSON.stringify(clip(text))} does not match /${check.matches}/` };
  return { passed: true, detail: 'answer as expected' };
}

function checkFile(check: Extract<Check, { type: 'file' }>, content: string | null): Omit<CheckResult, 'type'> {
  if (!check.exists) return content === null ? { passed: true, detail: `${check.path} absent` } : { passed: false, detail: `${check.path} exists` };
  if (content === null) return { passed: false, detail: `${check.path} does not exist` };
  if (check.contains !== undefined && !content.includes(check.contains)) return { passed: false, detail: `${check.path} lacks ${JSON.stringify(check.contains)}` };
  return { passed: true, detail: `${check.path} as expected` };
}

// ---------- reading a workspace file through the agent's bash tool ----------

const PRESENT = 'EVAL_FILE_PRESENT';
const ABSENT = 'EVAL_FILE_ABSENT';

/** The shell command that prints a marker and the file, or the other marker when it does not exist. */
export function probeCommand(file: string): string {
  return `if test -e '${file}'; then echo ${PRESENT}; cat '${file}'; else echo ${ABSENT}; fi`;
}

/**
 * The user message that has the agent run `probeCommand`: plain words a real model follows, and a `[[tool:bash …]]`
 * directive the scripted model acts on (a real model reads it as part of the request). The runtime offers no way to
 * read a session's workspace from outside, so the file is read the way the agent would.
 */
export function probeMessage(file: string): string {
  const command = probeCommand(file);
  return `Run exactly this bash command once, unchanged, and then stop: ${command}\n[[tool:bash ${JSON.stringify({ command })}]]`;
}

/** The file's content from a tool result that printed a marker, null for "absent", undefined when neither is there. */
export function parseProbe(output: string): string | null | undefined {
  const present = output.indexOf(`${PRESENT}\n`);
  if (present >= 0) return output.slice(present + PRESENT.length + 1);
  return output.includes(ABSENT) ? null : undefined;
}

// ---------- the grader ----------

/**
 * Asks the model at `client` for a verdict in the outcome grader's shape, `{"verdict", "explanation"}` with
 * `satisfied` or `failed`, so a rubric can script the scripted model's answer with `[[grade:satisfied]]` or
 * `[[grade:until=WORD]]` (satisfied once WORD is in the agent's answer).
 */
export async function gradeWithModel(client: Anthropic, model: string, rubric: string, answer: string): Promise<{ passed: boolean; explanation: string }> {
  const prompt = [
    "You grade an AI agent's final answer against a rubric.",
    'Reply with only a JSON object: {"verdict": "satisfied" or "failed", "explanation": "one sentence"}.',
    '',
    '<rubric>',
    rubric,
    '</rubric>',
    '',
    '<answer>',
    answer,
    '</answer>',
  ].join('\n');
  const message = await client.messages.create({ model, max_tokens: 1024, messages: [{ role: 'user', content: prompt }] });
  const text = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  const json = /\{[\s\S]*\}/.exec(text)?.[0];
  let verdict: unknown;
  let explanation = '';
  try {
    const parsed = JSON.parse(json ?? '') as { verdict?: unknown; explanation?: unknown };
    verdict = parsed.verdict;
    explanation = typeof parsed.explanation === 'string' ? parsed.explanation : '';
  } catch {
    return { passed: false, explanation: `grader gave no verdict: ${JSON.stringify(clip(text))}` };
  }
  return { passed: verdict === 'satisfied', explanation: `${String(verdict)}: ${explanation}` };
}
