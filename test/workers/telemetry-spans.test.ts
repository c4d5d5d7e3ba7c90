// A turn of a session's log as trace spans (contract/telemetry-spans.ts, docs/telemetry-spans.md): the spans the
// exporter sends for model requests, tool calls (confirmed, denied, MCP), interrupted work, retries, budgets,
// compaction, outcomes and threads; ids that are the same every time a turn is read; no content unless asked for.
import { describe, expect, it } from 'vitest';
import {
  agentCustomToolUse, agentMcpToolResult, agentMcpToolUse, agentMessage, agentToolResult, agentToolUse, contextCompacted,
  outcomeEvaluationEnd, outcomeEvaluationStart, sessionError, spanModelRequestEnd, spanModelRequestStart, statusIdle,
  statusRunning, systemMessage, threadCreated, threadMessageSent, threadStatusIdle, threadStatusRunning, userDefineOutcome,
  type NewEvent, type SessionEvent, type StoredInput,
} from '../../contract/events.ts';
import { listCostUsd } from '../../contract/pricing.ts';
import { CONTENT_ATTRIBUTES, INTERRUPTED, truncateUtf8, turnSpans, type TurnContext } from '../../contract/telemetry-spans.ts';
import type { TraceSpan } from '../../contract/trace-span.ts';

const MODEL = 'claude-sonnet-4-5';
const CTX: TurnContext = { workspaceId: 'wrkspc_1', sessionId: 'sesn_1', agentId: 'agent_1', agentName: 'coder', agentVersion: 3, model: MODEL };
const USAGE_1 = { input_tokens: 1200, output_tokens: 80, cache_read_input_tokens: 900, cache_creation_input_tokens: 300 };
const USAGE_2 = { input_tokens: 1500, output_tokens: 40, cache_read_input_tokens: 1100, cache_creation_input_tokens: 0 };

/** A session's log as the log stamps it: ids in order, each event 100 ms after the one before. */
class Log {
  readonly events: SessionEvent[] = [];
  private n = 0;
  private ms = Date.parse('2026-12-02T10:00:00.000Z');
  private readonly prefix: string;
  constructor(prefix = 'sevt_') {
    this.prefix = prefix;
  }

  add(ev: NewEvent | StoredInput, thread?: string): SessionEvent {
    this.ms += 100;
    const id = ('id' in ev && ev.id) || `${this.prefix}${String(++this.n).padStart(4, '0')}`;
    const stored = { ...ev, id, ...(thread ? { session_thread_id: thread } : {}), processed_at: new Date(this.ms).toISOString() } as SessionEvent;
    this.events.push(stored);
    return stored;
  }

  /** The events from `from` on: one turn, when `from` is the turn's first event. */
  since(from: SessionEvent): SessionEvent[] {
    return this.events.slice(this.events.indexOf(from));
  }
}

function userMessage(text: string): StoredInput {
  return { type: 'user.message', content: [{ type: 'text', text }] };
}

function named(spans: TraceSpan[], name: string): TraceSpan[] {
  return spans.filter((s) => s.name === name);
}

function one(spans: TraceSpan[], name: string): TraceSpan {
  const found = named(spans, name);
  expect(found, `spans named '${name}'`).toHaveLength(1);
  return found[0]!;
}

/** A turn that asks the model twice: once for a bash call, once for the answer. */
function toolTurn(texts = { user: 'list the files', input: 'ls -la', output: 'a.txt b.txt', answer: 'Two files.' }) {
  const log = new Log();
  const first = log.add(userMessage(texts.user));
  log.add(statusRunning());
  const start1 = log.add(spanModelRequestStart());
  const use = log.add(agentToolUse('bash', { command: texts.input }, 'allow'));
  const end1 = log.add(spanModelRequestEnd(start1.id, USAGE_1, false));
  const result = log.add(agentToolResult(use.id, [{ type: 'text', text: texts.output }], false));
  const start2 = log.add(spanModelRequestStart());
  log.add(agentMessage('sevt_answer', [{ type: 'text', text: texts.answer }]));
  const end2 = log.add(spanModelRequestEnd(start2.id, USAGE_2, false));
  const idle = log.add(statusIdle({ type: 'end_turn' }));
  return { events: log.since(first), first, start1, use, end1, result, start2, end2, idle };
}

/** A turn with every kind of event that has content: a denied call, compaction, an outcome grade, a thread message, a loop nudge. */
function everyKindTurn(): SessionEvent[] {
  const log = new Log();
  const first = log.add(userDefineOutcome('outc_1', { description: 'tidy', rubric: { type: 'text', content: 'rubric' } }));
  log.add(userMessage('go'));
  const use = log.add(agentToolUse('bash', { command: 'rm -rf /' }, 'ask'));
  log.add({ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'deny', deny_message: 'no' });
  log.add(contextCompacted({ compacted_through: 'sevt_x', compacted_events: 4, method: 'model', summary: 'summary' }));
  log.add(threadMessageSent('sthr_h', [{ type: 'text', text: 'hello helper' }], 'helper'));
  log.add(systemMessage('you are looping', { source: 'edgeharness.loop', loop_key: 'bash:ls' }));
  const evalStart = log.add(outcomeEvaluationStart('outc_1', 1));
  log.add(outcomeEvaluationEnd({ id: evalStart.id, outcome_id: 'outc_1', iteration: 1 }, 'satisfied', 'explained', USAGE_1));
  log.add(statusIdle({ type: 'end_turn' }));
  return log.since(first);
}

describe('a turn with two model requests and a tool call', () => {
  const t = toolTurn();
  const spans = turnSpans(t.events, CTX);
  const root = spans[0]!;
  const chats = named(spans, `chat ${MODEL}`);
  const tool = one(spans, 'execute_tool bash');

  it('has a root invoke_agent span over the whole turn, with the agent and the conversation named', () => {
    expect(spans).toHaveLength(4);
    expect(root).toMatchObject({ name: 'invoke_agent coder', kind: 'internal', status: { code: 'unset' } });
    expect(root.parentSpanId).toBeUndefined();
    expect(root.startMs).toBe(Date.parse(t.first.processed_at));
    expect(root.endMs).toBe(Date.parse(t.idle.processed_at));
    expect(root.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.id': 'agent_1',
      'gen_ai.agent.name': 'coder',
      'gen_ai.agent.version': '3',
      'gen_ai.conversation.id': 'sesn_1',
      'edgeharness.stop_reason': 'end_turn',
    });
  });

  it('has a chat span per model request with GenAI usage attributes, cost and finish reason', () => {
    expect(chats).toHaveLength(2);
    const [c1, c2] = chats as [TraceSpan, TraceSpan];
    expect(c1.kind).toBe('client');
    expect(c1.startMs).toBe(Date.parse(t.start1.processed_at));
    expect(c1.endMs).toBe(Date.parse(t.end1.processed_at));
    expect(c1.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': MODEL,
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 80,
      'gen_ai.usage.cache_read.input_tokens': 900,
      'gen_ai.usage.cache_creation.input_tokens': 300,
      'gen_ai.response.finish_reasons': ['tool_use'],
      'edgeharness.cost_usd': listCostUsd(MODEL, USAGE_1),
      'edgeharness.retries': 0,
    });
    expect(c2.attributes['gen_ai.response.finish_reasons']).toEqual(['end_turn']);
    expect(c2.attributes['edgeharness.cost_usd']).toBe(listCostUsd(MODEL, USAGE_2));
    expect(c1.status.code).toBe('unset');
  });

  it('has an execute_tool span from the call to its result', () => {
    expect(tool.kind).toBe('internal');
    expect(tool.startMs).toBe(Date.parse(t.use.processed_at));
    expect(tool.endMs).toBe(Date.parse(t.result.processed_at));
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'bash',
      'gen_ai.tool.call.id': t.use.id,
      'gen_ai.tool.type': 'extension',
      'edgeharness.tool.permission': 'allow',
    });
    expect(tool.status.code).toBe('unset');
  });

  it('joins every span to the session, the agent, the workspace and its start and end events', () => {
    for (const s of spans) {
      expect(s.traceId).toBe(root.traceId);
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(s.attributes).toMatchObject({ 'edgeharness.session.id': 'sesn_1', 'edgeharness.agent.id': 'agent_1', 'edgeharness.workspace.id': 'wrkspc_1' });
      if (s !== root) expect(s.parentSpanId).toBe(root.spanId);
    }
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    expect(root.attributes).toMatchObject({ 'edgeharness.event.id': t.first.id, 'edgeharness.end_event.id': t.idle.id });
    expect(chats[0]!.attributes).toMatchObject({ 'edgeharness.event.id': t.start1.id, 'edgeharness.end_event.id': t.end1.id });
    expect(tool.attributes).toMatchObject({ 'edgeharness.event.id': t.use.id, 'edgeharness.end_event.id': t.result.id });
  });
});

describe('ids', () => {
  it('are the same each time a turn is read, so a turn exported twice is one trace', () => {
    const t = toolTurn();
    expect(turnSpans(t.events, CTX)).toEqual(turnSpans(structuredClone(t.events), CTX));
  });

  it('come from the event ids: another turn is another trace, and no two spans share an id', () => {
    const a = turnSpans(toolTurn().events, CTX);
    const log = new Log('sevt_other_');
    const first = log.add(userMessage('hi'));
    log.add(statusIdle({ type: 'end_turn' }));
    const b = turnSpans(log.since(first), CTX);
    expect(b[0]!.traceId).not.toBe(a[0]!.traceId);
    expect(b[0]!.spanId).not.toBe(a[0]!.spanId);
    // the root's id comes from the first event, as a child's would: they must still differ
    const confirmTurn = deniedCall().turn2;
    const ids = confirmTurn.map((s) => s.spanId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

/** A call that needs confirmation: turn 1 ends waiting for it, turn 2 starts with the user's denial. */
function deniedCall() {
  const log = new Log();
  const first1 = log.add(userMessage('delete the build folder'));
  log.add(statusRunning());
  const start = log.add(spanModelRequestStart());
  const use = log.add(agentToolUse('bash', { command: 'rm -rf build' }, 'ask'));
  log.add(spanModelRequestEnd(start.id, USAGE_1, false));
  log.add(statusIdle({ type: 'requires_action', event_ids: [use.id] }));
  const turn1Events = log.since(first1);
  const confirm = log.add({ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'deny', deny_message: 'not today' });
  log.add(statusRunning());
  const result = log.add(agentToolResult(use.id, [{ type: 'text', text: 'not today' }], true));
  const start2 = log.add(spanModelRequestStart());
  log.add(agentMessage('sevt_ok', [{ type: 'text', text: 'Understood.' }]));
  log.add(spanModelRequestEnd(start2.id, USAGE_2, false));
  log.add(statusIdle({ type: 'end_turn' }));
  return { use, confirm, result, turn1: turnSpans(turn1Events, CTX), turn2: turnSpans(log.since(confirm), CTX) };
}

describe('a tool call that needs confirmation', () => {
  const d = deniedCall();

  it('waits, not interrupted, at the end of the turn that asked', () => {
    const tool = one(d.turn1, 'execute_tool bash');
    expect(tool.status.code).toBe('unset');
    expect(tool.attributes).toMatchObject({ 'edgeharness.tool.awaiting': 'requires_action', 'edgeharness.tool.permission': 'ask' });
    expect(d.turn1[0]!.attributes['edgeharness.requires_action.event_ids']).toEqual([d.use.id]);
  });

  it('is an error span with the denial as a span event in the turn the user denied it', () => {
    const tool = one(d.turn2, 'execute_tool');
    expect(tool.status).toEqual({ code: 'error', message: 'tool_denied' });
    expect(tool.attributes).toMatchObject({
      'gen_ai.tool.call.id': d.use.id,
      'edgeharness.tool.confirmation': 'deny',
      'error.type': 'tool_denied',
      'edgeharness.event.id': d.confirm.id,
      'edgeharness.end_event.id': d.result.id,
    });
    expect(tool.events).toEqual([
      { name: 'tool.confirmation', timeMs: Date.parse(d.confirm.processed_at), attributes: { 'edgeharness.tool.confirmation': 'deny', 'edgeharness.event.id': d.confirm.id } },
    ]);
  });
});

describe('other tool calls', () => {
  it('an MCP call is a client span naming its server', () => {
    const log = new Log();
    const first = log.add(userMessage('what is on my calendar'));
    const start = log.add(spanModelRequestStart());
    const use = log.add(agentMcpToolUse('calendar', 'list_events', { day: 'today' }, 'allow'));
    log.add(spanModelRequestEnd(start.id, USAGE_1, false));
    log.add(agentMcpToolResult(use.id, [{ type: 'text', text: 'standup at 9' }], false));
    log.add(statusIdle({ type: 'end_turn' }));
    const tool = one(turnSpans(log.since(first), CTX), 'execute_tool list_events');
    expect(tool.kind).toBe('client');
    expect(tool.attributes).toMatchObject({ 'gen_ai.tool.name': 'list_events', 'gen_ai.tool.type': 'extension', 'edgeharness.mcp.server': 'calendar' });
  });

  it("a toolset call's span says whether it started the sandbox; a result without sandbox_start says nothing", () => {
    const log = new Log();
    const first = log.add(userMessage('two calls'));
    const start = log.add(spanModelRequestStart());
    const cold = log.add(agentToolUse('bash', { command: 'echo 1' }, 'allow'));
    const warm = log.add(agentToolUse('read', { file_path: 'a.txt' }, 'allow'));
    const refused = log.add(agentToolUse('nope', {}, 'allow'));
    log.add(spanModelRequestEnd(start.id, USAGE_1, false));
    log.add(agentToolResult(cold.id, [{ type: 'text', text: '1' }], false, { sandbox_start: 'cold' }));
    log.add(agentToolResult(warm.id, [{ type: 'text', text: 'a' }], false, { sandbox_start: 'warm' }));
    log.add(agentToolResult(refused.id, [{ type: 'text', text: "Tool 'nope' is not available to this agent." }], true));
    log.add(statusIdle({ type: 'end_turn' }));
    const spans = turnSpans(log.since(first), CTX);
    expect(one(spans, 'execute_tool bash').attributes['edgeharness.sandbox.start']).toBe('cold');
    expect(one(spans, 'execute_tool read').attributes['edgeharness.sandbox.start']).toBe('warm');
    expect(one(spans, 'execute_tool nope').attributes).not.toHaveProperty('edgeharness.sandbox.start');
  });

  it('a custom tool is a function the client runs: it waits at the end of the turn, and its result ends the next one', () => {
    const log = new Log();
    const first = log.add(userMessage('weather?'));
    const start = log.add(spanModelRequestStart());
    const use = log.add(agentCustomToolUse('get_weather', { city: 'Oslo' }));
    log.add(spanModelRequestEnd(start.id, USAGE_1, false));
    log.add(statusIdle({ type: 'requires_action', event_ids: [use.id] }));
    const waiting = one(turnSpans(log.since(first), CTX), 'execute_tool get_weather');
    expect(waiting.attributes).toMatchObject({ 'gen_ai.tool.type': 'function', 'edgeharness.tool.awaiting': 'requires_action' });

    const answer = log.add({ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [{ type: 'text', text: 'sunny' }], is_error: true });
    log.add(statusIdle({ type: 'end_turn' }));
    const answered = one(turnSpans(log.since(answer), CTX), 'execute_tool');
    expect(answered.attributes).toMatchObject({ 'gen_ai.tool.call.id': use.id, 'error.type': 'tool_error' });
    expect(answered.status.code).toBe('error');
  });
});

describe('work the turn did not finish', () => {
  it('an interrupted model request ends with the turn, as an error', () => {
    const log = new Log();
    const first = log.add(userMessage('write a long essay'));
    const start = log.add(spanModelRequestStart());
    const interrupt = log.add({ type: 'user.interrupt' });
    const idle = log.add(statusIdle({ type: 'end_turn' }));
    const spans = turnSpans(log.since(first), CTX);
    const chat = one(spans, `chat ${MODEL}`);
    expect(chat.status).toEqual({ code: 'error', message: INTERRUPTED });
    expect(chat.startMs).toBe(Date.parse(start.processed_at));
    expect(chat.endMs).toBe(Date.parse(idle.processed_at));
    expect(chat.attributes['edgeharness.end_event.id']).toBe(idle.id);
    expect(spans[0]!.events).toEqual([{ name: 'user.interrupt', timeMs: Date.parse(interrupt.processed_at), attributes: { 'edgeharness.event.id': interrupt.id } }]);
  });

  it('a model request that failed after retries counts them and carries the error type', () => {
    const log = new Log();
    const first = log.add(userMessage('hello'));
    const start = log.add(spanModelRequestStart());
    log.add(sessionError({ type: 'model_overloaded_error', message: 'overloaded; attempt 2 of 3', retry_status: { type: 'retrying' } }));
    log.add(sessionError({ type: 'model_overloaded_error', message: 'overloaded; attempt 3 of 3', retry_status: { type: 'retrying' } }));
    log.add(spanModelRequestEnd(start.id, USAGE_1, true));
    log.add(sessionError({ type: 'model_overloaded_error', message: 'overloaded (gave up after 3 attempts)', retry_status: { type: 'exhausted' } }));
    log.add(statusIdle({ type: 'retries_exhausted' }));
    const spans = turnSpans(log.since(first), CTX);
    const chat = one(spans, `chat ${MODEL}`);
    expect(chat.attributes).toMatchObject({ 'edgeharness.retries': 2, 'error.type': 'model_overloaded_error' });
    expect(chat.attributes['gen_ai.response.finish_reasons']).toBeUndefined();
    expect(chat.status).toEqual({ code: 'error', message: 'model_overloaded_error' });
    const root = spans[0]!;
    expect(root.status.code).toBe('error');
    expect(root.events.map((e) => [e.name, e.attributes['edgeharness.retry_status']])).toEqual([
      ['session.error', 'retrying'],
      ['session.error', 'retrying'],
      ['session.error', 'exhausted'],
    ]);
  });
});

describe('budgets, compaction, outcomes and threads', () => {
  it('a budget notice and the limit that stopped the turn are span events on the root', () => {
    const log = new Log();
    const first = log.add(userMessage('keep going'));
    const notice = log.add(systemMessage("Budget notice: 82% of this session's max_tokens is used.", { source: 'edgeharness.budget' }));
    const idle = log.add(statusIdle({ type: 'budget_reached' }, { limit: 'max_tokens' }));
    const root = turnSpans(log.since(first), CTX)[0]!;
    expect(root.events).toEqual([
      { name: 'budget.update', timeMs: Date.parse(notice.processed_at), attributes: { 'edgeharness.budget.notice': "Budget notice: 82% of this session's max_tokens is used.", 'edgeharness.event.id': notice.id } },
      { name: 'limit.reached', timeMs: Date.parse(idle.processed_at), attributes: { 'edgeharness.limit': 'max_tokens', 'edgeharness.stop_reason': 'budget_reached', 'edgeharness.event.id': idle.id } },
    ]);
  });

  it('compaction, an outcome evaluation and a sub-agent thread are spans of their own', () => {
    const log = new Log();
    const first = log.add(userDefineOutcome('outc_1', { description: 'tidy', rubric: { type: 'text', content: 'SECRET-RUBRIC' } }));
    const compacted = log.add(contextCompacted({ compacted_through: 'sevt_x', compacted_events: 40, method: 'model', summary: 'SECRET-SUMMARY' }));
    log.add(threadCreated('sthr_h', 'helper'), 'sthr_h');
    log.add(threadStatusRunning('sthr_h', 'helper'), 'sthr_h');
    const helperStart = log.add(spanModelRequestStart(), 'sthr_h');
    log.add(spanModelRequestEnd(helperStart.id, USAGE_2, false), 'sthr_h');
    const helperIdle = log.add(threadStatusIdle('sthr_h', 'helper', { type: 'end_turn' }), 'sthr_h');
    const evalStart = log.add(outcomeEvaluationStart('outc_1', 1));
    const evalEnd = log.add(outcomeEvaluationEnd({ id: evalStart.id, outcome_id: 'outc_1', iteration: 1 }, 'satisfied', 'SECRET-EXPLANATION', USAGE_1));
    log.add(statusIdle({ type: 'end_turn' }));
    const spans = turnSpans(log.since(first), CTX);

    const compaction = one(spans, 'compact_context');
    expect(compaction.attributes).toMatchObject({ 'edgeharness.compaction.method': 'model', 'edgeharness.compaction.compacted_events': 40, 'edgeharness.event.id': compacted.id });

    const evaluation = one(spans, 'outcome_evaluation');
    expect(evaluation.endMs - evaluation.startMs).toBe(Date.parse(evalEnd.processed_at) - Date.parse(evalStart.processed_at));
    expect(evaluation.attributes).toMatchObject({ 'edgeharness.outcome.result': 'satisfied', 'edgeharness.outcome.iteration': 1, 'gen_ai.usage.input_tokens': 1200 });

    const thread = one(spans, 'invoke_agent helper');
    expect(thread.attributes).toMatchObject({ 'edgeharness.thread.id': 'sthr_h', 'edgeharness.stop_reason': 'end_turn', 'edgeharness.end_event.id': helperIdle.id });
    // the helper's model is not in its events: its chat span names no model rather than the lead's
    const helperChat = one(spans, 'chat');
    expect(helperChat.parentSpanId).toBe(thread.spanId);
    expect(helperChat.attributes['gen_ai.request.model']).toBeUndefined();
    const withModel = turnSpans(log.since(first), { ...CTX, threadModels: { sthr_h: 'claude-haiku-4-5' } });
    expect(one(withModel, 'chat claude-haiku-4-5').attributes['edgeharness.cost_usd']).toBe(listCostUsd('claude-haiku-4-5', USAGE_2));

    expect(JSON.stringify(spans)).not.toMatch(/SECRET/);
  });
});

describe('content', () => {
  const CANARY = { user: 'canary-user-7f3a', input: 'canary-input-91bc', output: 'canary-output-44de', answer: 'canary-answer-0c1d' };

  it('metadata_only (the default) puts no message, tool input or tool output in any span', () => {
    const json = JSON.stringify(turnSpans(toolTurn(CANARY).events, CTX));
    for (const canary of Object.values(CANARY)) expect(json).not.toContain(canary);
    expect(json).not.toContain('gen_ai.input.messages');
  });

  it('content mode carries messages, tool arguments and results as GenAI attributes', () => {
    const spans = turnSpans(toolTurn(CANARY).events, { ...CTX, contentMode: 'content' });
    const root = spans[0]!;
    expect(JSON.parse(String(root.attributes['gen_ai.input.messages']))).toEqual([{ role: 'user', parts: [{ type: 'text', content: CANARY.user }] }]);
    expect(String(root.attributes['gen_ai.output.messages'])).toContain(CANARY.answer);
    const tool = one(spans, 'execute_tool bash');
    expect(JSON.parse(String(tool.attributes['gen_ai.tool.call.arguments']))).toEqual({ command: CANARY.input });
    expect(String(tool.attributes['gen_ai.tool.call.result'])).toContain(CANARY.output);
  });

  it('names every attribute content mode adds in CONTENT_ATTRIBUTES, which the exporter removes for metadata-only destinations', () => {
    const keys = (spans: TraceSpan[]) => new Set(spans.flatMap((sp) => [...Object.keys(sp.attributes), ...sp.events.flatMap((e) => Object.keys(e.attributes))]));
    for (const events of [toolTurn(CANARY).events, everyKindTurn()]) {
      const metadata = keys(turnSpans(events, CTX));
      const added = [...keys(turnSpans(events, { ...CTX, contentMode: 'content' }))].filter((k) => !metadata.has(k));
      expect(added.length).toBeGreaterThan(0);
      for (const key of added) expect(CONTENT_ATTRIBUTES.has(key), key).toBe(true);
    }
  });

  it('is cut to maxContentBytes of UTF-8, never inside a character', () => {
    // '€' is three bytes and the JSON before the text 51: 60 bytes end after a character, 61 and 62 inside one
    const euros = '€'.repeat(20);
    const log = new Log();
    const first = log.add(userMessage(euros));
    log.add(statusIdle({ type: 'end_turn' }));
    const full = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: euros }] }]);
    for (const max of [60, 61, 62]) {
      const text = String(turnSpans(log.since(first), { ...CTX, contentMode: 'content', maxContentBytes: max })[0]!.attributes['gen_ai.input.messages']);
      expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(max);
      expect(text).not.toContain('\uFFFD');
      expect(full.startsWith(text)).toBe(true);
      expect(text.endsWith('€')).toBe(true);
    }
    expect(truncateUtf8('a😀b', 4)).toBe('a');
    expect(truncateUtf8('a😀b', 5)).toBe('a😀');
    expect(truncateUtf8('short', 100)).toBe('short');
  });
});
