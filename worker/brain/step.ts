// One brain step, crash-only: read the log, settle the tool calls it left open, call the model once, append
// what was learned — every append fenced by the epoch. The step holds nothing between calls; each decision is
// re-derived from the log, so a fresh brain woken after a crash at any line continues the turn without
// duplicating an event or running a tool twice (a tool call's idempotency key is its `agent.tool_use` id).
import { newId } from '../../contract/ids.ts';
import type { NewEvent, SessionEvent } from '../../contract/event.ts';
import type { EmitOptions, LiveDelta, Refusal, StepView } from '../../durable-objects/session-log.ts';
import type { Hands, SandboxSpec } from '../../sandbox/hands.ts';
import { redactContent, type SandboxCredential } from '../../sandbox/credentials.ts';
import { buildModelRequest, CONTEXT_EVENT_TYPES } from './context-builder.ts';
import { classifyModelError, type ModelPort, type ModelTurn } from './model-client.ts';
import { assessBudget, BUDGET_NOTICE_SOURCE, toolCallsLeft } from './budget.ts';
import { compactionSpan, DEFAULT_TRIGGER_TOKENS, estimateTokens, IDLE_COMPACTION_AT, latestCompaction, MAX_COMPACTIONS, summarize } from './compactor.ts';
import { listCostUsd } from './pricing.ts';
import { checkToolInput, resolveTools, type ResolvedTool } from './tools.ts';

/** The part of the SessionLog a brain may use: fenced reads, fenced appends, live deltas. */
export interface LogPort {
  readForStep(epoch: number, types: string[]): Promise<StepView | Refusal>;
  emit(epoch: number, events: NewEvent[], opts?: EmitOptions): Promise<{ ok: true; events: SessionEvent[] } | Refusal>;
  release(epoch: number): Promise<boolean>;
  broadcastDelta(epoch: number, delta: LiveDelta): Promise<boolean>;
  consumeFault(point: string): Promise<void>;
  stillHolds(epoch: number): Promise<boolean>;
}

/** Where a step gets the session's vault credentials (decrypted) when it is about to run a tool. */
export interface VaultPort {
  sessionCredentials(workspaceId: string, vaultIds: string[]): Promise<SandboxCredential[]>;
}

const NO_VAULT: VaultPort = { sessionCredentials: async () => [] };

export type StepOutcome = 'end_turn' | 'tool_use' | 'requires_action' | 'budget_reached' | 'model_error' | 'nothing_to_do' | 'stale' | 'crashed';

/** Named points where tests can make a step die (EDGEHARNESS_FAULT_INJECTION); see `SessionLog.injectFaults`. */
export const CRASH_POINTS = [
  'before_running',
  'after_running',
  'after_model_request_start',
  'mid_stream',
  'after_model_response',
  'after_tool_use',
  'after_tool_execution',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export class InjectedCrash extends Error {
  constructor(point: string) {
    super(`injected crash at ${point}`);
  }
}

class Stale extends Error {}

const STEP_EVENT_TYPES = [...CONTEXT_EVENT_TYPES, 'span.model_request_start', 'span.model_request_end', 'user.tool_confirmation'];
const DELTA_FLUSH_MS = 40;

export interface StepOptions {
  /** Model attempts per request before the turn ends with retries_exhausted (the circuit breaker). */
  maxModelAttempts: number;
  /** First backoff; doubles per attempt (with jitter), capped at 30 s. `retry-after` overrides it. */
  retryBaseMs: number;
}

export const DEFAULT_STEP_OPTIONS: StepOptions = { maxModelAttempts: 5, retryBaseMs: 1000 };
const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 120_000;

/**
 * The error a Durable Object call gives when what it returns is over the RPC limit (32 MiB): a session whose
 * context (its messages and tool results, as the step reads them) outgrew what one step can read.
 */
const READ_TOO_LARGE = /limited to 32MiB/;

/**
 * Ends the turn of a session too large to read, visibly and for good: without this, every watchdog alarm would
 * wake a brain that fails the same way, forever.
 */
async function endTurnTooLarge(epoch: number, log: LogPort): Promise<StepOutcome> {
  const message =
    "this session's context (its messages and tool results) is larger than one turn can read (32 MiB), so no model " +
    'request was made; start a new session, or send smaller messages';
  await log.emit(
    epoch,
    [
      { type: 'session.error', error: { type: 'model_request_failed_error', message, retry_status: { type: 'terminal' } } },
      { type: 'session.status_idle', stop_reason: { type: 'retries_exhausted' }, stop_details: null },
    ],
    { release: true, consumeAllInput: true },
  );
  return 'model_error';
}

export async function runStep(
  epoch: number,
  log: LogPort,
  model: ModelPort,
  hands: Hands,
  options: StepOptions = DEFAULT_STEP_OPTIONS,
  vault: VaultPort = NO_VAULT,
): Promise<StepOutcome> {
  let view: StepView | Refusal;
  try {
    view = await log.readForStep(epoch, STEP_EVENT_TYPES);
  } catch (err) {
    if (!READ_TOO_LARGE.test(String(err))) throw err;
    return endTurnTooLarge(epoch, log);
  }
  if (!view.ok) return 'stale';
  const crash = async (point: CrashPoint) => {
    if (!view.faults.includes(point)) return;
    await log.consumeFault(point);
    throw new InjectedCrash(point);
  };
  // The step's picture of the log: what it read plus what it appended since.
  const seen = [...view.events];
  const emit = async (events: NewEvent[], opts?: EmitOptions) => {
    const r = await log.emit(epoch, events, opts);
    if (!r.ok) throw new Stale(r.error.message);
    seen.push(...r.events);
    return r.events;
  };

  try {
    if (!view.pending) {
      await log.release(epoch);
      return 'nothing_to_do';
    }
    await crash('before_running');
    if (view.status !== 'running') await emit([{ type: 'session.status_running' }]);
    await crash('after_running');

    const tools = resolveTools(view.agent);
    const spec: SandboxSpec = {
      sessionId: view.sessionId,
      workspaceId: view.workspaceId,
      environmentId: view.environmentId,
      networking: view.networking,
    };
    // Read from the vault only when a tool is about to run, and afresh each step: a rotated value applies at once.
    let credentials: Promise<SandboxCredential[]> | undefined;
    const loadCredentials = (): Promise<SandboxCredential[]> =>
      (credentials ??= view.vaultIds.length ? vault.sessionCredentials(view.workspaceId, view.vaultIds) : Promise.resolve([]));

    // 1. Tool calls the log left open: run, refuse, or wait for the client.
    const { waiting, limitReached } = await settleToolCalls(view.events, tools, hands, spec, loadCredentials, emit, crash, toolCallsLeft(view, seen));
    if (limitReached) {
      await emit(
        [
          {
            type: 'session.error',
            error: { type: 'tool_use_limit_reached_error', message: `max_tool_calls (${view.limits.max_tool_calls}) reached`, retry_status: { type: 'terminal' } },
          },
          { type: 'session.status_idle', stop_reason: { type: 'budget_reached' }, stop_details: null, limit: 'max_tool_calls' },
        ],
        { release: true, consumedSeq: view.inputSeq },
      );
      return 'budget_reached';
    }
    if (waiting.length) {
      await emit([{ type: 'session.status_idle', stop_reason: { type: 'requires_action', event_ids: waiting }, stop_details: null }], {
        release: true,
        consumedSeq: view.inputSeq,
      });
      return 'requires_action';
    }

    // 2. Budgets and limits are checked before every model request; at 80% the model is told, once.
    const budget = assessBudget(view, seen, Date.now());
    if (budget.exhausted) {
      await emit([{ type: 'session.status_idle', stop_reason: { type: 'budget_reached' }, stop_details: null, limit: budget.exhausted }], {
        release: true,
        consumedSeq: view.inputSeq,
      });
      return 'budget_reached';
    }
    if (budget.notice && !seen.some((e) => e.type === 'system.message' && e.source === BUDGET_NOTICE_SOURCE))
      await emit([{ type: 'system.message', source: BUDGET_NOTICE_SOURCE, content: [{ type: 'text', text: budget.notice }] }]);

    // 3. Compaction: a context past the threshold is summarised first (the log keeps every event).
    const definitions = [...tools.values()].map((t) => t.definition);
    const contextNow = () => seen.filter((e) => (CONTEXT_EVENT_TYPES as readonly string[]).includes(e.type));
    const trigger = view.compaction.trigger_tokens ?? DEFAULT_TRIGGER_TOKENS;
    if (estimateTokens(buildModelRequest(view.agent, contextNow(), definitions)) > trigger) {
      if (seen.filter((e) => e.type === 'agent.thread_context_compacted').length >= MAX_COMPACTIONS) {
        await emit(
          [
            {
              type: 'session.error',
              error: { type: 'compaction_limit_reached_error', message: `the context was compacted ${MAX_COMPACTIONS} times and is over its threshold again`, retry_status: { type: 'terminal' } },
            },
            { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null, stopped_by: 'compaction_limit' },
          ],
          { release: true, consumedSeq: view.inputSeq },
        );
        return 'end_turn';
      }
      await compact(view, contextNow(), model, emit);
    }

    // 4. One model request. One opened by a brain that died is reused, not opened twice.
    let startId = openModelRequest(seen);
    if (!startId) startId = (await emit([{ type: 'span.model_request_start' }]))[0]!.id;
    await crash('after_model_request_start');

    const request = buildModelRequest(view.agent, contextNow(), definitions);
    // Retries happen here, each visible as a session.error; only the answer that completes becomes events,
    // so a retried or cut stream never yields a second agent.message.
    let turn: ModelTurn | null = null;
    let messageId = '';
    for (let attempt = 1; ; attempt++) {
      messageId = newId('sevt');
      const deltas = new DeltaPublisher(log, epoch, messageId);
      const watch = watchLease(log, epoch);
      try {
        turn = await model.stream(
          request,
          async (text) => {
            await deltas.push(text);
            await crash('mid_stream');
          },
          watch.signal,
        );
        await deltas.flush();
        break;
      } catch (err) {
        if (err instanceof InjectedCrash || err instanceof Stale) throw err;
        // An interrupt moved the epoch on: this answer is no longer wanted, and could not land anyway.
        if (watch.signal.aborted) throw new Stale('lease lost during the model call');
        const failure = classifyModelError(err);
        if (!failure.retryable || attempt >= options.maxModelAttempts) {
          const why = failure.retryable ? `gave up after ${attempt} attempts` : 'not retried';
          await emit(
            [
              { type: 'span.model_request_end', model_request_start_id: startId, is_error: true, model_usage: zeroUsage() },
              {
                type: 'session.error',
                error: {
                  type: failure.type,
                  message: `${failure.message} (${why})`,
                  retry_status: { type: failure.retryable ? 'exhausted' : 'terminal' },
                },
              },
              { type: 'session.status_idle', stop_reason: { type: 'retries_exhausted' }, stop_details: null },
            ],
            { release: true, consumedSeq: view.inputSeq },
          );
          return 'model_error';
        }
        const delay = backoffMs(attempt, failure.retryAfterMs, options.retryBaseMs);
        const reason = failure.retryAfterMs !== null ? 'as retry-after asks' : 'backing off';
        await emit([
          {
            type: 'session.error',
            error: {
              type: failure.type,
              message: `${failure.message}; attempt ${attempt + 1} of ${options.maxModelAttempts} in ${(delay / 1000).toFixed(1)} s (${reason})`,
              retry_status: { type: 'retrying' },
            },
          },
        ]);
        await new Promise((resolve) => setTimeout(resolve, delay));
      } finally {
        watch.stop();
      }
    }
    await crash('after_model_response');

    const text = turn.content.filter((b) => b.type === 'text');
    const out: NewEvent[] = [];
    if (text.length) out.push({ id: messageId, type: 'agent.message', content: text });
    for (const block of turn.content) {
      if (block.type !== 'tool_use') continue;
      const tool = tools.get(block.name);
      if (tool?.kind === 'custom') out.push({ type: 'agent.custom_tool_use', name: block.name, input: block.input });
      else
        out.push({
          type: 'agent.tool_use',
          name: block.name,
          input: block.input,
          evaluated_permission: tool?.permission.type === 'always_ask' ? 'ask' : 'allow',
        });
    }
    const span: NewEvent = {
      type: 'span.model_request_end',
      model_request_start_id: startId,
      is_error: false,
      model_usage: {
        input_tokens: turn.usage.input_tokens,
        output_tokens: turn.usage.output_tokens,
        cache_read_input_tokens: turn.usage.cache_read_input_tokens,
        cache_creation_input_tokens: turn.usage.cache_creation_input_tokens,
      },
    };
    const loop = detectLoop(seen, out);
    if (loop?.action === 'stop') {
      // The model kept repeating itself after the nudge: end the turn, and say why.
      await emit(
        [
          ...out.filter((e) => e.type === 'agent.message'),
          span,
          { type: 'session.error', error: { type: 'unknown_error', message: loop.message, retry_status: { type: 'terminal' } } },
          { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null, stopped_by: 'loop_detection' },
        ],
        { release: true, consumedSeq: view.inputSeq, usage: turn.usage, costUsd: listCostUsd(view.agent.model.id, turn.usage) },
      );
      return 'end_turn';
    }
    if (loop?.action === 'nudge') out.push({ type: 'system.message', source: LOOP_NOTICE_SOURCE, loop_key: loop.key, content: [{ type: 'text', text: loop.message }] });
    const calledTools = out.some((e) => e.type === 'agent.tool_use' || e.type === 'agent.custom_tool_use');
    if (calledTools) {
      // The calls are in the log before anything runs (at most once); the next step, woken because input is
      // still unanswered, runs them.
      await emit([...out, span], { release: true, usage: turn.usage, costUsd: listCostUsd(view.agent.model.id, turn.usage) });
      return 'tool_use';
    }
    // One fenced append ends the turn: either all of it lands or none of it does.
    await emit([...out, span, { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null }], {
      consumedSeq: view.inputSeq,
      usage: turn.usage,
      costUsd: listCostUsd(view.agent.model.id, turn.usage),
    });
    // The session is idle for its user; a context near the threshold is compacted now, in that idle time, so
    // the next turn does not wait for it. New input meanwhile is picked up when the lease is released.
    const nextSize = estimateTokens(buildModelRequest(view.agent, contextNow(), definitions));
    if (nextSize > IDLE_COMPACTION_AT * trigger && seen.filter((e) => e.type === 'agent.thread_context_compacted').length < MAX_COMPACTIONS)
      await compact(view, contextNow(), model, emit);
    await log.release(epoch);
    return 'end_turn';
  } catch (err) {
    if (err instanceof Stale) return 'stale';
    throw err;
  }
}

/** Summarises what lies before the latest user turn and records it as `agent.thread_context_compacted`. */
async function compact(
  view: StepView,
  context: SessionEvent[],
  model: ModelPort,
  emit: (events: NewEvent[], opts?: EmitOptions) => Promise<SessionEvent[]>,
): Promise<void> {
  const span = compactionSpan(context);
  if (!span) return;
  const previous = latestCompaction(context);
  const summary = await summarize(model, view.agent, typeof previous?.summary === 'string' ? previous.summary : null, span.fold);
  const event: NewEvent = {
    type: 'agent.thread_context_compacted',
    compacted_through: span.through.id,
    compacted_events: span.fold.length,
    method: summary.method,
    summary: summary.text,
  };
  if (summary.error) event.fallback_reason = summary.error;
  await emit([event], summary.usage ? { usage: summary.usage, costUsd: listCostUsd(view.agent.model.id, summary.usage) } : {});
}

/**
 * Settles every tool call without a result: agent toolset calls run in the sandbox (or are refused: denied by
 * the user, unknown, or input that violates the schema); calls that need the client — custom tools, and
 * `always_ask` tools not yet confirmed — are returned as the event ids the session waits for.
 */
async function settleToolCalls(
  events: SessionEvent[],
  tools: Map<string, ResolvedTool>,
  hands: Hands,
  spec: SandboxSpec,
  loadCredentials: () => Promise<SandboxCredential[]>,
  emit: (events: NewEvent[]) => Promise<SessionEvent[]>,
  crash: (point: CrashPoint) => Promise<void>,
  callsLeft: number,
): Promise<{ waiting: string[]; limitReached: boolean }> {
  const answered = new Set<string>();
  const confirmations = new Map<string, SessionEvent>();
  for (const e of events) {
    if (e.type === 'agent.tool_result') answered.add(String(e.tool_use_id));
    if (e.type === 'user.custom_tool_result') answered.add(String(e.custom_tool_use_id));
    if (e.type === 'user.tool_confirmation') confirmations.set(String(e.tool_use_id), e);
  }
  const waiting: string[] = [];
  let left = callsLeft;
  let limitReached = false;
  for (const call of events) {
    if ((call.type !== 'agent.tool_use' && call.type !== 'agent.custom_tool_use') || answered.has(call.id)) continue;
    const name = String(call.name);
    const input = (call.input ?? {}) as Record<string, unknown>;
    const tool = tools.get(name);
    const refuse = (text: string) => emit([{ type: 'agent.tool_result', tool_use_id: call.id, content: [{ type: 'text', text }], is_error: true }]);
    if (!tool) {
      await refuse(`Tool '${name}' is not available to this agent.`);
      continue;
    }
    const problem = checkToolInput(tool.definition, input);
    if (problem) {
      await refuse(`Invalid input for tool '${name}': ${problem}`);
      continue;
    }
    if (tool.kind === 'custom') {
      waiting.push(call.id);
      continue;
    }
    if (tool.permission.type === 'always_ask') {
      const confirmation = confirmations.get(call.id);
      if (!confirmation) {
        waiting.push(call.id);
        continue;
      }
      if (confirmation.result === 'deny') {
        await refuse(typeof confirmation.deny_message === 'string' && confirmation.deny_message ? confirmation.deny_message : 'The user denied this tool call.');
        continue;
      }
    }
    if (left <= 0) {
      // No more tool runs: the call is answered, not run, and the turn stops (the caller reports why).
      await refuse('Not run: the session reached its max_tool_calls limit.');
      limitReached = true;
      continue;
    }
    left--;
    await crash('after_tool_use');
    let credentials: SandboxCredential[];
    try {
      credentials = await loadCredentials();
    } catch (err) {
      // e.g. a master key missing after a rotation: the call is answered (not run), the session goes on
      await refuse(`Not run: the session's vault credentials could not be read (${(err as Error).message}).`);
      continue;
    }
    const outcome = await hands.execute({ ...spec, credentials }, { name, input, idempotencyKey: call.id });
    await crash('after_tool_execution');
    // The hands redact too; this is the last gate before the log, whatever provider ran the call.
    const content = redactContent(outcome.content, credentials);
    await emit([{ type: 'agent.tool_result', tool_use_id: call.id, content, is_error: outcome.isError }]);
  }
  return { waiting, limitReached };
}

function openModelRequest(events: SessionEvent[]): string | null {
  const ended = new Set(events.filter((e) => e.type === 'span.model_request_end').map((e) => e.model_request_start_id));
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'span.model_request_start') return ended.has(e.id) ? null : e.id;
  }
  return null;
}

const LEASE_CHECK_MS = 500;

/** The same call with the same input this many times in a row is a loop: one nudge, then the turn stops. */
export const LOOP_REPEATS = 3;
const LOOP_NOTICE_SOURCE = 'edgeharness.loop';

/**
 * Loop detection over the log: counts how many of the latest tool calls, including the one just made, repeat
 * the same tool with the same input. At LOOP_REPEATS the model gets one nudge (a system.message after the
 * call); if it repeats the call again after that nudge, the turn stops.
 */
function detectLoop(seen: SessionEvent[], out: NewEvent[]): { action: 'nudge' | 'stop'; key: string; message: string } | null {
  const call = out.find((e) => e.type === 'agent.tool_use' || e.type === 'agent.custom_tool_use');
  if (!call) return null;
  const key = `${String(call.name)} ${JSON.stringify(call.input ?? {})}`;
  let streak = 1;
  for (let i = seen.length - 1; i >= 0; i--) {
    const e = seen[i]!;
    if (e.type !== 'agent.tool_use' && e.type !== 'agent.custom_tool_use') continue;
    if (`${String(e.name)} ${JSON.stringify(e.input ?? {})}` !== key) break;
    streak++;
  }
  if (streak < LOOP_REPEATS) return null;
  const nudged = seen.some((e) => e.type === 'system.message' && e.source === LOOP_NOTICE_SOURCE && e.loop_key === key);
  return nudged
    ? { action: 'stop', key, message: `loop detected: '${String(call.name)}' was called with the same input ${streak} times in a row, after a nudge; the turn is stopped` }
    : {
        action: 'nudge',
        key,
        message: `You have called '${String(call.name)}' with the same input ${streak} times in a row. Its result will not change: try a different approach, or finish with what you have.`,
      };
}

/** Aborts the model call as soon as the brain no longer holds the lease (a user.interrupt, a takeover). */
function watchLease(log: LogPort, epoch: number): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const timer = setInterval(() => {
    log.stillHolds(epoch).then(
      (holds) => {
        if (!holds) controller.abort(new Error('lease lost'));
      },
      () => {},
    );
  }, LEASE_CHECK_MS);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

/** Exponential backoff with jitter (half to all of the step), or exactly what `retry-after` asked for. */
function backoffMs(attempt: number, retryAfterMs: number | null, baseMs: number): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  const step = Math.min(baseMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
  return step / 2 + Math.random() * (step / 2);
}

function zeroUsage() {
  return { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
}

/**
 * Streams model text to live readers as `event_start` / `event_delta` frames for the agent.message that will
 * carry the full text. Deltas are batched so a fast model does not cost one Durable Object call per token.
 */
class DeltaPublisher {
  private buffer = '';
  private started = false;
  private lastFlush = 0;
  private index = 0;
  private readonly log: LogPort;
  private readonly epoch: number;
  private readonly eventId: string;
  constructor(log: LogPort, epoch: number, eventId: string) {
    this.log = log;
    this.epoch = epoch;
    this.eventId = eventId;
  }

  async push(text: string): Promise<void> {
    this.buffer += text;
    if (Date.now() - this.lastFlush >= DELTA_FLUSH_MS) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.buffer) return;
    if (!this.started) {
      this.started = true;
      await this.log.broadcastDelta(this.epoch, { type: 'event_start', event: { id: this.eventId, type: 'agent.message' } });
    }
    const text = this.buffer;
    this.buffer = '';
    this.lastFlush = Date.now();
    await this.log.broadcastDelta(this.epoch, {
      type: 'event_delta',
      event_id: this.eventId,
      delta: { type: 'content_delta', index: this.index++, content: { type: 'text', text } },
    });
  }
}
