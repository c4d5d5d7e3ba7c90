// One brain step, crash-only: read the log, settle the tool calls it left open, call the model once, append
// what was learned — every append fenced by the epoch. The step holds nothing between calls; each decision is
// re-derived from the log, so a fresh brain woken after a crash at any line continues the turn without
// duplicating an event or running a tool twice (a tool call's idempotency key is its `agent.tool_use` id).
import {
  agentCustomToolUse, agentMcpToolUse, agentMessage, agentToolUse, contextCompacted, sessionError, spanModelRequestEnd, spanModelRequestStart,
  statusIdle, statusRunning, systemMessage, type NewEvent, type SessionEvent,
} from '../../contract/events.ts';
import { outcomeEvaluationStart } from '../../contract/events.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import { activeOutcome, evaluationsEnded } from '../../contract/outcome.ts';
import type { EmitOptions, StepView } from '../../durable-objects/session-log.ts';
import type { SandboxCredential } from '../../sandbox/credentials.ts';
import type { SandboxFile, SandboxRepository, SandboxSkill } from '../../sandbox/hands.ts';
import { assessBudget, BUDGET_NOTICE_SOURCE, toolCallsLeft } from './budget.ts';
import { compactionSpan, DEFAULT_TRIGGER_TOKENS, estimateTokens, IDLE_COMPACTION_AT, latestCompaction, MAX_COMPACTIONS, summarize } from './compactor.ts';
import { buildModelRequest, CONTEXT_EVENT_TYPES, withFileContents } from './context-builder.ts';
import { sessionSkills } from './files.ts';
import { saveMemoryChanges } from './memory-mounts.ts';
import { detectLoop, LOOP_NOTICE_SOURCE } from './loop-detection.ts';
import { connectMcpServers, type McpServers } from './mcp-servers.ts';
import type { ModelTurn } from './model-client.ts';
import { requestModel } from './model-request.ts';
import { gradeOpenEvaluation } from './outcomes.ts';
import { StaleEpoch, type FilePort, type LogPort, type StepPorts } from './ports.ts';
import { listCostUsd } from '../../contract/pricing.ts';
import { settleToolCalls } from './tool-calls.ts';
import {
  eventsOf, finishThread, focusThread, offerDelegate, refuseWaiting, stopThread, tagForThread, threadContext, THREAD_EVENT_TYPES, threadLog, withoutDelegateCalls,
  type ThreadFocus,
} from './threads.ts';
import { resolveTools, type ResolvedTool, type ToolDefinition } from './tools.ts';

export type StepOutcome =
  | 'end_turn' | 'tool_use' | 'requires_action' | 'budget_reached' | 'model_error' | 'nothing_to_do' | 'stale' | 'outcome_evaluated';

export interface StepOptions {
  /** Model attempts per request before the turn ends with retries_exhausted (the circuit breaker). */
  maxModelAttempts: number;
  /** First backoff; doubles per attempt (with jitter), capped at 30 s. `retry-after` overrides it. */
  retryBaseMs: number;
}

export const DEFAULT_STEP_OPTIONS: StepOptions = { maxModelAttempts: 5, retryBaseMs: 1000 };

// session.error and session.status_idle: an MCP server that failed this turn is not tried again until the next.
const STEP_EVENT_TYPES = [
  ...CONTEXT_EVENT_TYPES, 'span.model_request_start', 'span.model_request_end', 'user.tool_confirmation', 'session.error', 'session.status_idle',
  'span.outcome_evaluation_start', ...THREAD_EVENT_TYPES,
];

/**
 * One step, phase by phase:
 *   1. openStep                — read the log; a stale epoch, no pending input or an unreadable session ends here
 *   2. markRunning             — say the session is running (once, whichever brain says it)
 *      gradeOpenEvaluation     — an outcome evaluation the agent's last answer opened is graded, and the step
 *                                ends with the verdict (worker/brain/outcomes.ts)
 *      enterThread             — an open delegate call makes the step work for that sub-agent thread
 *                                (worker/brain/threads.ts)
 *      connectMcp              — reach the agent's MCP servers (if it has an mcp_toolset) and offer their tools
 *   3. settleOpenToolCalls     — run, refuse or wait for the tool calls the log left open
 *   4. checkBudgets            — stop at a budget or limit; warn the model once at 80%
 *   5. compactIfOverThreshold  — summarise older turns of a context past its threshold
 *   6. askModel                — one model request (files the messages name read in), streamed and retried; a
 *                                failure ends the turn
 *   7. recordAnswer            — append the calls for the next step, or end the turn (and compact while idle)
 * A phase that ends the step returns its outcome; null hands on to the next.
 */
export async function runStep(epoch: number, ports: StepPorts, options: StepOptions = DEFAULT_STEP_OPTIONS): Promise<StepOutcome> {
  const step = await openStep(epoch, ports, options);
  if (typeof step === 'string') return step;
  try {
    await markRunning(step);
    const graded = await gradeOpenEvaluation(step);
    if (graded) return graded;
    await enterThread(step);
    await connectMcp(step);
    const stopped = (await settleOpenToolCalls(step)) ?? (await checkBudgets(step)) ?? (await compactIfOverThreshold(step));
    if (stopped) return stopped;
    const answer = await askModel(step);
    if (!answer.ok) return answer.outcome;
    return await recordAnswer(step, answer.turn, answer.messageId, answer.startId);
  } catch (err) {
    // fenced: a newer epoch holds the session, so nothing this step would append can land
    if (err instanceof StaleEpoch) return 'stale';
    throw err;
  } finally {
    await step.mcp?.close();
  }
}

/** What one step works with: what it read, what it has appended since, and the fenced way to append. */
interface Step {
  epoch: number;
  view: StepView;
  spec: SessionSpec;
  ports: StepPorts;
  options: StepOptions;
  tools: Map<string, ResolvedTool>;
  definitions: ToolDefinition[];
  /** The agent's MCP servers, once connected (connectMcp). */
  mcp?: McpServers;
  /** The step's picture of its thread's log: what it read plus what it appended since. */
  seen: SessionEvent[];
  /** The other threads' events (the session's budget counts them too). */
  others: SessionEvent[];
  /** The sub-agent thread this step works for; absent: the primary thread. */
  thread?: ThreadFocus;
  /** Fenced append; a refusal ends the step (StaleEpoch). */
  emit(events: NewEvent[], opts?: EmitOptions): Promise<SessionEvent[]>;
}

// ---------- 1. open ----------

/**
 * The error a Durable Object call gives when what it returns is over the RPC limit (32 MiB): a session whose
 * context (its messages and tool results, as the step reads them) outgrew what one step can read.
 */
const READ_TOO_LARGE = /limited to 32MiB/;

async function openStep(epoch: number, ports: StepPorts, options: StepOptions): Promise<Step | StepOutcome> {
  const { log } = ports;
  let view;
  try {
    view = await log.readForStep(epoch, STEP_EVENT_TYPES);
  } catch (err) {
    if (!READ_TOO_LARGE.test(String(err))) throw err;
    return endTurnTooLarge(epoch, log);
  }
  if (!view.ok) return 'stale';
  if (!view.pending) {
    await log.release(epoch);
    return 'nothing_to_do';
  }
  const tools = resolveTools(view.spec.agent);
  offerDelegate(tools, view.spec);
  const primary = eventsOf(view.events, null);
  const step: Step = {
    epoch,
    view: { ...view, events: primary },
    spec: view.spec,
    ports,
    options,
    tools,
    definitions: [...tools.values()].map((t) => t.definition),
    seen: [...primary],
    others: view.events.filter((e) => !primary.includes(e)),
    async emit(events, opts) {
      const r = await log.emit(epoch, step.thread ? tagForThread(step.thread, events) : events, opts);
      if (!r.ok) throw new StaleEpoch(r.error.message);
      const mine = eventsOf(r.events, step.thread?.id ?? null);
      step.seen.push(...(step.thread ? threadContext(mine) : mine));
      return r.events;
    },
  };
  return step;
}

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
    [sessionError({ type: 'model_request_failed_error', message, retry_status: { type: 'terminal' } }), statusIdle({ type: 'retries_exhausted' })],
    { release: true, consumeAllInput: true },
  );
  return 'model_error';
}

// ---------- 2. running ----------

async function markRunning(step: Step): Promise<void> {
  if (step.view.status !== 'running') await step.emit([statusRunning()]);
}

/** MCP servers are reached by the step that needs their tools, and their tools join what the model is offered. */
async function connectMcp(step: Step): Promise<void> {
  const { spec, ports } = step;
  step.mcp = await connectMcpServers({ spec, seen: step.seen, mcp: ports.mcp, vault: ports.vault, emit: (events) => step.emit(events) }, step.tools);
  step.definitions = [...step.tools.values()].map((t) => t.definition);
}

/**
 * An open delegate call of the primary thread hands the step to the sub-agent thread it names: from here on the step
 * sees that thread's events, runs its agent with its tools, and what it appends carries the thread.
 */
async function enterThread(step: Step): Promise<void> {
  // What starting a thread appends to it (the primary's part lands in step.seen, as every append of this step does).
  const started: SessionEvent[] = [];
  const focus = await focusThread(step.spec, [...step.others, ...step.seen], step.view.archivedThreads, async (events) => {
    const r = await step.emit(events);
    started.push(...r.filter((e) => e.session_thread_id));
    return r;
  });
  if (!focus) return;
  step.ports = { ...step.ports, log: threadLog(step.ports.log, focus.id) };
  const everything = [...step.others, ...started, ...step.seen];
  const mine = eventsOf(everything, focus.id);
  step.thread = focus;
  step.spec = { ...step.spec, agent: focus.agent };
  step.view = { ...step.view, events: threadContext(mine) };
  step.seen = threadContext(mine);
  step.others = everything.filter((e) => !mine.includes(e));
  step.tools = resolveTools(focus.agent);
  step.definitions = [...step.tools.values()].map((t) => t.definition);
}

// ---------- 3. open tool calls ----------

async function settleOpenToolCalls(step: Step): Promise<StepOutcome | null> {
  const { spec, ports } = step;
  // Read from the vault only when a tool is about to run, and afresh each step: a rotated value applies at once.
  let credentials: Promise<SandboxCredential[]> | undefined;
  let repositories: Promise<SandboxRepository[]> | undefined;
  // listed afresh each step: a file resource added since the last call is placed before the next one runs
  let files: Promise<SandboxFile[]> | undefined;
  let skills: Promise<SandboxSkill[]> | undefined;
  // Delegate calls are the brain's own, settled by enterThread; they never go to the hands.
  const { waiting, limitReached } = await settleToolCalls(step.thread ? step.view.events : withoutDelegateCalls(step.view.events), {
    spec,
    tools: step.tools,
    hands: ports.hands,
    credentials: () => (credentials ??= spec.vaultIds.length ? ports.vault.sessionCredentials(spec.workspaceId, spec.vaultIds) : Promise.resolve([])),
    repositories: () => (repositories ??= ports.vault.sessionRepositories(spec.workspaceId, spec.sessionId)),
    files: () => (files ??= sessionFiles(ports.files, spec.workspaceId, spec.sessionId)),
    skills: () => (skills ??= sessionSkills(ports.files, spec)),
    // read afresh for every call: the next call must see what this one saved (and other sessions' writes)
    memoryStores: () => (spec.memoryStores?.length ? ports.files.sessionMemoryStores(spec.workspaceId, spec.sessionId) : Promise.resolve([])),
    saveMemory: (callId, changes, stores) => saveMemoryChanges(ports.files, spec, callId, changes, stores),
    emit: (events) => step.emit(events),
    callsLeft: toolCallsLeft(step.view, allThreads(step)),
    mcp: step.mcp!,
    claim: async (key) => {
      const r = await ports.log.claimCall(step.epoch, key);
      if (typeof r !== 'boolean') throw new StaleEpoch(r.error.message);
      return r;
    },
  });
  if (limitReached) {
    const message = `max_tool_calls (${spec.limits.max_tool_calls}) reached`;
    await stopTurn(step, [
      sessionError({ type: 'tool_use_limit_reached_error', message, retry_status: { type: 'terminal' } }),
      statusIdle({ type: 'budget_reached' }, { limit: 'max_tool_calls' }),
    ]);
    return 'budget_reached';
  }
  if (waiting.length && step.thread) {
    // A sub-agent thread does not wait for the client: what it would wait for is answered with an error.
    await step.emit(refuseWaiting(step.seen, waiting));
    return null;
  }
  if (waiting.length) {
    await stopTurn(step, [statusIdle({ type: 'requires_action', event_ids: waiting })]);
    return 'requires_action';
  }
  return null;
}

/** The session's file resources as the hands take them: the bytes are read from the bucket only if the hands ask. */
async function sessionFiles(port: FilePort, workspaceId: string, sessionId: string): Promise<SandboxFile[]> {
  const listed = await port.sessionFiles(workspaceId, sessionId);
  return listed.map((f) => ({ ...f, read: async () => (await port.read(workspaceId, f.fileId))?.bytes ?? null }));
}

// ---------- 4. budgets ----------

/** Budgets and limits are checked before every model request; at 80% the model is told, once. */
async function checkBudgets(step: Step): Promise<StepOutcome | null> {
  const budget = assessBudget(step.view, allThreads(step), Date.now());
  if (budget.exhausted) {
    await stopTurn(step, [statusIdle({ type: 'budget_reached' }, { limit: budget.exhausted })]);
    return 'budget_reached';
  }
  if (budget.notice && !allThreads(step).some((e) => e.type === 'system.message' && e.source === BUDGET_NOTICE_SOURCE))
    await step.emit([systemMessage(budget.notice, { source: BUDGET_NOTICE_SOURCE })]);
  return null;
}

// ---------- 5. compaction ----------

/** A context past the threshold is summarised before the model sees it (the log keeps every event). */
async function compactIfOverThreshold(step: Step): Promise<StepOutcome | null> {
  if (contextTokens(step) <= triggerTokens(step)) return null;
  if (compactions(step) >= MAX_COMPACTIONS) {
    const message = `the context was compacted ${MAX_COMPACTIONS} times and is over its threshold again`;
    await stopTurn(step, [
      sessionError({ type: 'compaction_limit_reached_error', message, retry_status: { type: 'terminal' } }),
      statusIdle({ type: 'end_turn' }, { stopped_by: 'compaction_limit' }),
    ]);
    return 'end_turn';
  }
  await compact(step);
  return null;
}

/** The session is idle for its user; a context near the threshold is compacted now, so the next turn need not wait. */
async function compactWhileIdle(step: Step): Promise<void> {
  if (contextTokens(step) > IDLE_COMPACTION_AT * triggerTokens(step) && compactions(step) < MAX_COMPACTIONS) await compact(step);
}

/** Summarises what lies before the latest user turn and records it as `agent.thread_context_compacted`. */
async function compact(step: Step): Promise<void> {
  const context = contextNow(step);
  const span = compactionSpan(context);
  if (!span) return;
  const previous = latestCompaction(context);
  const summary = await summarize(step.ports.model, step.spec.agent, previous?.summary ?? null, span.fold);
  const event = contextCompacted({
    compacted_through: span.through.id,
    compacted_events: span.fold.length,
    method: summary.method,
    summary: summary.text,
    ...(summary.error ? { fallback_reason: summary.error } : {}),
  });
  await step.emit([event], summary.usage ? { usage: summary.usage, costUsd: listCostUsd(step.spec.agent.model.id, summary.usage) } : {});
}

function contextNow(step: Step): SessionEvent[] {
  return step.seen.filter((e) => (CONTEXT_EVENT_TYPES as readonly string[]).includes(e.type));
}

function contextTokens(step: Step): number {
  return estimateTokens(buildModelRequest(step.spec.agent, contextNow(step), step.definitions, step.spec.skills, step.spec.memoryStores));
}

function triggerTokens(step: Step): number {
  return step.spec.compaction.trigger_tokens ?? DEFAULT_TRIGGER_TOKENS;
}

function compactions(step: Step): number {
  return step.seen.filter((e) => e.type === 'agent.thread_context_compacted').length;
}

// ---------- 6. the model ----------

type Answer = { ok: true; turn: ModelTurn; messageId: string; startId: string } | { ok: false; outcome: StepOutcome };

/** One model request. A request a dead brain opened (`span.model_request_start` with no end) is reused, not opened twice. */
async function askModel(step: Step): Promise<Answer> {
  const startId = openModelRequest(step.seen) ?? (await step.emit([spanModelRequestStart()]))[0]!.id;
  const built = buildModelRequest(step.spec.agent, contextNow(step), step.definitions, step.spec.skills, step.spec.memoryStores);
  const request = await withFileContents(built, (fileId) => step.ports.files.read(step.spec.workspaceId, fileId));
  const answer = await requestModel(request, step.ports, step.epoch, (events) => step.emit(events), step.options);
  if (answer.ok) return { ok: true, turn: answer.turn, messageId: answer.messageId, startId };
  const { failure, attempts } = answer;
  const why = failure.retryable ? `gave up after ${attempts} attempts` : 'not retried';
  await stopTurn(step, [
    spanModelRequestEnd(startId, NO_USAGE, true),
    sessionError({ type: failure.type, message: `${failure.message} (${why})`, retry_status: { type: failure.retryable ? 'exhausted' : 'terminal' } }),
    statusIdle({ type: 'retries_exhausted' }),
  ]);
  return { ok: false, outcome: 'model_error' };
}

function openModelRequest(events: SessionEvent[]): string | null {
  const ended = new Set(events.filter((e) => e.type === 'span.model_request_end').map((e) => e.model_request_start_id));
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'span.model_request_start') return ended.has(e.id) ? null : e.id;
  }
  return null;
}

const NO_USAGE = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

// ---------- 7. the answer ----------

/**
 * Appends what the model answered. Tool calls are in the log before anything runs (at most once), and the next
 * step, woken because input is still unanswered, runs them; an answer without calls ends the turn in one fenced
 * append. A call the model keeps repeating after a nudge stops the turn instead.
 */
async function recordAnswer(step: Step, turn: ModelTurn, messageId: string, startId: string): Promise<StepOutcome> {
  const model = step.spec.agent.model.id;
  const accounting = { usage: turn.usage, costUsd: listCostUsd(model, turn.usage) };
  const text = turn.content.filter((b) => b.type === 'text');
  const out: NewEvent[] = [];
  if (text.length) out.push(agentMessage(messageId, text));
  for (const block of turn.content) {
    if (block.type !== 'tool_use') continue;
    const tool = step.tools.get(block.name);
    if (tool?.kind === 'custom') out.push(agentCustomToolUse(block.name, block.input));
    else if (tool?.kind === 'mcp') out.push(agentMcpToolUse(tool.server!, block.name, block.input, tool.permission.type === 'always_ask' ? 'ask' : 'allow'));
    else out.push(agentToolUse(block.name, block.input, tool?.permission.type === 'always_ask' ? 'ask' : 'allow'));
  }
  const span = spanModelRequestEnd(startId, turn.usage, false);

  const loop = detectLoop(step.seen, out);
  if (loop?.action === 'stop') {
    // The model kept repeating itself after the nudge: end the turn, and say why.
    await stopTurn(
      step,
      [
        ...out.filter((e) => e.type === 'agent.message'),
        span,
        sessionError({ type: 'unknown_error', message: loop.message, retry_status: { type: 'terminal' } }),
        statusIdle({ type: 'end_turn' }, { stopped_by: 'loop_detection' }),
      ],
      accounting,
    );
    return 'end_turn';
  }
  if (loop?.action === 'nudge') out.push(systemMessage(loop.message, { source: LOOP_NOTICE_SOURCE, loop_key: loop.key }));

  if (out.some((e) => e.type === 'agent.tool_use' || e.type === 'agent.custom_tool_use' || e.type === 'agent.mcp_tool_use')) {
    await step.emit([...out, span], { release: true, ...accounting });
    return 'tool_use';
  }
  // A sub-agent thread's answer goes back to the primary thread, which the next step continues.
  if (step.thread) {
    await step.emit(finishThread(step.thread, step.spec, [...out, span]), { release: true, ...accounting });
    return 'end_turn';
  }
  // While an outcome is active the answer is work to grade: the evaluation opens in the same append, the session
  // stays running, and the next step grades it (gradeOpenEvaluation).
  const outcome = activeOutcome(step.seen);
  if (outcome) {
    const start = outcomeEvaluationStart(outcome.outcome_id, evaluationsEnded(step.seen, outcome.outcome_id));
    await step.emit([...out, span, start], { release: true, ...accounting });
    return 'end_turn';
  }
  // One fenced append ends the turn: either all of it lands or none of it does. The lease is kept for idle-time
  // compaction; input that arrives meanwhile is picked up when it is released.
  await step.emit([...out, span, statusIdle({ type: 'end_turn' })], { consumedSeq: step.view.inputSeq, ...accounting });
  await compactWhileIdle(step);
  await step.ports.log.release(step.epoch);
  return 'end_turn';
}

/** Ends the turn early: appends why, answers the input the step read, releases the lease. */
async function stopTurn(step: Step, events: NewEvent[], opts: Omit<EmitOptions, 'release' | 'consumedSeq'> = {}): Promise<void> {
  await step.emit(step.thread ? stopThread(step.thread, events) : events, { ...opts, release: true, consumedSeq: step.view.inputSeq });
}

/** Every thread's events the step knows of: budgets and limits are the session's, across its threads. */
function allThreads(step: Step): SessionEvent[] {
  return [...step.others, ...step.seen];
}
