// Runs eval tasks against a runtime through the official SDK: one agent, environment and session per run, the
// task's messages one turn at a time, then the checks; measures what the run cost and how long it took.
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listCostUsd } from '../contract/pricing.ts';
import { startRuntime } from '../scripts/runtime.ts';
import { gradeWithModel, parseProbe, probeMessage, runChecks, type CheckResult } from './checks.ts';
import type { TaskSpec } from './task-spec.ts';

type SessionEvent = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

/** The model a task's agent uses when neither the task nor `--model` names one. */
export const DEFAULT_MODEL = 'claude-sonnet-5-5';

/** Where runs go: a runtime's client, the grader for rubric checks (null: none configured), and how to let go. */
export interface Target {
  client: Anthropic;
  baseUrl: string;
  /** 'scripted' when the runtime this runner started answers with the scripted model. */
  model: 'scripted' | 'external' | 'unknown';
  grader: Anthropic | null;
  stop(): Promise<void>;
}

/**
 * Starts the local runtime (scripts/runtime.ts) on a temporary state dir, which stop() removes. Its model is the
 * scripted one unless ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL is set; the grader is the same model. Aborting `signal`
 * while it starts stops what was started.
 */
export async function startLocalTarget(env: NodeJS.ProcessEnv, onStatus: (line: string) => void, signal?: AbortSignal): Promise<Target> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-eval-'));
  try {
    // an eval measures the harness, not the policy that caps one key's requests
    const runtime = await startRuntime({ port: 0, stateDir, env, onStatus, signal, workerVars: { EDGEHARNESS_RATE_LIMIT_PER_MINUTE: '0' } });
    const graderKey = runtime.model.kind === 'scripted' ? 'scripted' : env.ANTHROPIC_API_KEY;
    return {
      client: new Anthropic({ baseURL: runtime.url, apiKey: runtime.apiKey }),
      baseUrl: runtime.url,
      model: runtime.model.kind,
      grader: new Anthropic({ baseURL: runtime.model.baseURL ?? null, apiKey: graderKey ?? null }),
      async stop() {
        await runtime.stop();
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
}

/** A runtime that is already running (deployed, or `npm start`); the grader comes from ANTHROPIC_* when set. */
export function remoteTarget(baseUrl: string, apiKey: string, env: NodeJS.ProcessEnv): Target {
  const graderConfigured = Boolean(env.ANTHROPIC_API_KEY || env.ANTHROPIC_BASE_URL);
  return {
    client: new Anthropic({ baseURL: baseUrl, apiKey }),
    baseUrl,
    model: 'unknown',
    grader: graderConfigured ? new Anthropic({ baseURL: env.ANTHROPIC_BASE_URL || null, apiKey: env.ANTHROPIC_API_KEY || 'no-key-configured' }) : null,
    stop: async () => {},
  };
}

export interface Tokens {
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
}

/** One run of one task: the outcome of each check and what the run's turns took (the checks' own turns excluded). */
export interface RunResult {
  task: string;
  /** 1-based. */
  run: number;
  passed: boolean;
  checks: CheckResult[];
  /** Set when the run could not finish (an API error, a turn that never went idle); such a run fails. */
  error?: string;
  session_id: string | null;
  model: string;
  cost_usd: number;
  tokens: Tokens;
  /** Cache reads over all input tokens (uncached + cache reads + cache writes); 0 when there was no input. */
  cache_read_ratio: number;
  /** Model requests the agent made: one per loop iteration. */
  turns: number;
  tool_calls: number;
  /** From creating the session to the last message's turn going idle. */
  wall_ms: number;
}

export interface RunOptions {
  /** The model for agents whose task names none. */
  model: string;
  /** How long one turn may take before the run fails. */
  turnTimeoutMs: number;
}

const TOOL_CALLS = new Set(['agent.tool_use', 'agent.mcp_tool_use', 'agent.custom_tool_use']);

/** Runs `task` once; never throws: a failure to run is a failed run with `error` set. */
export async function runTask(target: Target, task: TaskSpec, run: number, options: RunOptions): Promise<RunResult> {
  const model = modelId(task.agent.model ?? options.model);
  const result: RunResult = {
    task: task.name, run, passed: false, checks: [], session_id: null, model,
    cost_usd: 0, tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 }, cache_read_ratio: 0, turns: 0, tool_calls: 0, wall_ms: 0,
  };
  try {
    const client = target.client;
    // the spec was validated against contract/agent.ts, which mirrors the SDK's params but is looser in places
    // (a tool config is one object, not the SDK's union per tool name): the runtime validates the request again
    const agent = await client.beta.agents.create({ ...task.agent, name: task.agent.name ?? `eval-${task.name}`, model: task.agent.model ?? options.model } as Anthropic.Beta.AgentCreateParams);
    const environment = await client.beta.environments.create({ ...task.environment, name: task.environment?.name ?? `eval-${task.name}` } as Anthropic.Beta.EnvironmentCreateParams);
    const started = performance.now();
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    result.session_id = session.id;
    const events: SessionEvent[] = [];
    for (const text of task.messages) events.push(...(await turn(client, session.id, text, options.turnTimeoutMs)));
    result.wall_ms = performance.now() - started;
    Object.assign(result, measure(events, model));

    result.checks = await runChecks(task.checks, {
      finalAnswer: finalAnswer(events),
      readFile: (file) => readWorkspaceFile(client, session.id, file, options.turnTimeoutMs),
      grade: async (rubric, answer) => {
        if (!target.grader) throw new Error('no grader model: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL) for rubric checks against --base-url');
        return gradeWithModel(target.grader, model, rubric, answer);
      },
    });
    result.passed = result.checks.every((c) => c.passed);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  return result;
}

function modelId(model: NonNullable<TaskSpec['agent']['model']>): string {
  return typeof model === 'string' ? model : model.id;
}

/**
 * Sends one user message and gathers the session's events until it goes idle (for any reason: the turn is over for
 * the user) or is terminated. The stream is opened first, so no event of the turn is missed.
 */
async function turn(client: Anthropic, sessionId: string, text: string, timeoutMs: number): Promise<SessionEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const stream = await client.beta.sessions.events.stream(sessionId, {}, { signal: abort.signal });
    await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
    const seen: SessionEvent[] = [];
    for await (const ev of stream) {
      seen.push(ev as SessionEvent);
      if (ev.type === 'session.status_idle' || ev.type === 'session.status_terminated') return seen;
    }
    throw new Error('the event stream ended before the session went idle');
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`a turn took longer than ${timeoutMs / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Usage, cost, turns and tool calls of the run's events, from their model-request spans. */
function measure(events: SessionEvent[], model: string): Pick<RunResult, 'cost_usd' | 'tokens' | 'cache_read_ratio' | 'turns' | 'tool_calls'> {
  const tokens: Tokens = { input: 0, output: 0, cache_read: 0, cache_write: 0 };
  let cost = 0;
  let turns = 0;
  for (const ev of events) {
    if (ev.type !== 'span.model_request_end') continue;
    const u = ev.model_usage;
    tokens.input += u.input_tokens;
    tokens.output += u.output_tokens;
    tokens.cache_read += u.cache_read_input_tokens;
    tokens.cache_write += u.cache_creation_input_tokens;
    cost += listCostUsd(model, u);
    turns++;
  }
  const allInput = tokens.input + tokens.cache_read + tokens.cache_write;
  return {
    cost_usd: cost,
    tokens,
    cache_read_ratio: allInput > 0 ? tokens.cache_read / allInput : 0,
    turns,
    tool_calls: events.filter((e) => TOOL_CALLS.has(e.type)).length,
  };
}

/** The text of the agent's last message. */
function finalAnswer(events: SessionEvent[]): string {
  const last = events.findLast((e): e is Extract<SessionEvent, { type: 'agent.message' }> => e.type === 'agent.message');
  return (last?.content ?? []).map((b) => ('text' in b ? b.text : '')).join('');
}

/** Has the agent print `file` with its bash tool (eval/checks.ts, probeMessage) and reads it off the tool result. */
async function readWorkspaceFile(client: Anthropic, sessionId: string, file: string, timeoutMs: number): Promise<string | null> {
  const events = await turn(client, sessionId, probeMessage(file), timeoutMs);
  for (const ev of events) {
    if (ev.type !== 'agent.tool_result') continue;
    const output = (ev.content ?? []).map((b) => ('text' in b ? b.text : '')).join('');
    const content = parseProbe(output);
    if (content !== undefined) return content;
  }
  throw new Error(`the agent did not run the command that prints ${file} (does the agent have the bash tool?)`);
}
