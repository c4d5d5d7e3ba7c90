// The eval task spec: one JSON file per task in the suite's folder, read and validated here so a mistake names the
// file and the field before anything runs.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AgentCreateParams } from '../contract/agent.ts';
import { EnvironmentCreateParams } from '../contract/environment.ts';

// The runner names the agent and the environment after the task, and the model may come from `--model`.
const AgentSpec = AgentCreateParams.partial({ model: true, name: true });
const EnvironmentSpec = EnvironmentCreateParams.partial({ name: true });

const FinalAnswerCheck = z
  .strictObject({
    type: z.literal('final_answer'),
    equals: z.string().optional(),
    contains: z.string().optional(),
    /** A JavaScript regular expression, without slashes. */
    matches: z
      .string()
      .refine((s) => { try { new RegExp(s); return true; } catch { return false; } }, 'not a valid regular expression')
      .optional(),
  })
  .refine((c) => c.equals !== undefined || c.contains !== undefined || c.matches !== undefined, 'needs equals, contains or matches');

const FileCheck = z.strictObject({
  type: z.literal('file'),
  // quoted into a shell command (eval/checks.ts): a single quote would end the quoting
  path: z.string().min(1).refine((p) => !p.includes("'") && !p.includes('\n'), 'may not contain a single quote or a newline'),
  exists: z.boolean().default(true),
  contains: z.string().optional(),
});

const RubricCheck = z.strictObject({ type: z.literal('rubric'), rubric: z.string().min(1) });

export const Check = z.discriminatedUnion('type', [FinalAnswerCheck, FileCheck, RubricCheck]);
export type Check = z.infer<typeof Check>;

export const TaskSpec = z.strictObject({
  name: z.string().min(1).regex(/^[\w.-]+$/, 'letters, digits, ".", "_" and "-" only'),
  description: z.string().optional(),
  agent: AgentSpec,
  environment: EnvironmentSpec.optional(),
  /** Sent one per turn; each waits for the session to go idle. */
  messages: z.array(z.string().min(1)).min(1),
  checks: z.array(Check).min(1),
  runs: z.number().int().min(1).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

/** A task file that does not parse or does not fit the spec; the message names the file and the field. */
export class TaskSpecError extends Error {
  override readonly name = 'TaskSpecError';
}

/** `checks[0].equals`, as a user would write the path into the JSON. */
function fieldPath(p: ReadonlyArray<PropertyKey>): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '') || '(top level)';
}

/** Reads and validates one task file; throws TaskSpecError naming the file and the first fields that are wrong. */
export function readTask(file: string): TaskSpec {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TaskSpecError(`${file}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = TaskSpec.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
    throw new TaskSpecError(`${file}: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** Every `*.json` in `dir`, by file name, whose task name contains `filter`; names must be unique. */
export function readTasks(dir: string, filter?: string): TaskSpec[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    throw new TaskSpecError(`${dir}: cannot read the task folder: ${err instanceof Error ? err.message : String(err)}`);
  }
  const seen = new Map<string, string>();
  const tasks: TaskSpec[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const task = readTask(file);
    const earlier = seen.get(task.name);
    if (earlier) throw new TaskSpecError(`${file}: name: "${task.name}" is already the name of ${earlier}`);
    seen.set(task.name, file);
    if (!filter || task.name.includes(filter)) tasks.push(task);
  }
  return tasks;
}
