// One turn of a session's log as trace spans (docs/telemetry-spans.md): a root `invoke_agent` span, a `chat` span
// per model request, an `execute_tool` span per tool call, and spans for compaction, outcome evaluation and
// sub-agent threads, named and attributed per the OpenTelemetry GenAI semantic conventions. Pure and synchronous:
// the same events give the same spans, ids included, so a turn exported twice is one trace, not two.
import type { EventOf, SessionEvent } from './events.ts';
import { listCostUsd } from './pricing.ts';
import { threadOf } from './threads.ts';
import type { SpanAttributes, TraceSpan, TraceSpanEvent } from './trace-span.ts';

/** What the events do not say about the session they belong to. */
export interface TurnContext {
  workspaceId: string;
  sessionId: string;
  agentId: string;
  agentName?: string;
  agentVersion?: number;
  /** The primary agent's model: what its `chat` spans and the grader's cost are priced as. */
  model: string;
  /** `metadata_only` (the default) puts no message text, tool input or tool output in any span. */
  contentMode?: 'metadata_only' | 'content';
  /** The most UTF-8 bytes any one content attribute holds (default 8192). */
  maxContentBytes?: number;
  /**
   * The model of each sub-agent thread, by thread id. The events do not record it: without it a thread's `chat`
   * spans carry no model and no cost rather than the primary agent's.
   */
  threadModels?: Readonly<Record<string, string>>;
}

const DEFAULT_MAX_CONTENT_BYTES = 8192;

/**
 * Every attribute that carries content (prompts, completions, tool inputs and outputs, text a user wrote): the GenAI
 * semantic conventions' names and our own. Only `contentMode: 'content'` sets them, and the exporter removes them
 * for a destination whose content mode is `metadata_only`.
 */
export const CONTENT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'gen_ai.system_instructions',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  'edgeharness.tool.deny_message',
  'edgeharness.compaction.summary',
  'edgeharness.loop.key',
  'edgeharness.outcome.explanation',
  'edgeharness.thread.message',
]);
/** The status message of a span whose end never reached the log (an interrupt, a crash, a turn cut short). */
export const INTERRUPTED = 'interrupted';

/**
 * The spans of one turn: `events` are the turn's stored events in log order, from the first event after the previous
 * turn ended (a user.* event) through the session.status_idle / session.status_terminated that ends it.
 *
 * A span whose start is in the turn but whose end is not ends with the turn, status error `interrupted` — unless the
 * turn ended waiting for it (`requires_action`), when it ends unset with `edgeharness.tool.awaiting`. An end whose
 * start is in an earlier turn (a tool call confirmed or answered by the client) gets a span from the turn's start.
 */
export function turnSpans(events: readonly SessionEvent[], ctx: TurnContext): TraceSpan[] {
  const first = events[0];
  const last = events.at(-1);
  if (!first || !last) return [];
  const turn = new Turn(first, last, ctx);
  for (let i = 0; i < events.length; i++) turn.take(events[i]!, events[i + 1]);
  return turn.finish();
}

// ---------- the turn as it is read ----------

type ToolUse = EventOf<'agent.tool_use'> | EventOf<'agent.mcp_tool_use'> | EventOf<'agent.custom_tool_use'>;

/** A span whose end event has not been read yet; `thread` says which thread's span is its parent. */
interface Building {
  span: TraceSpan;
  thread: string | null;
  /** Tool calls the model's answer made (chat spans), for the finish reason. */
  toolCalls: number;
  /** `session.error`s with `retry_status: retrying` while the request was open (chat spans). */
  retries: number;
}

/** The turn's spans as its events are read in order: open spans are keyed by what their end event names. */
class Turn {
  private readonly traceId: string;
  private readonly root: TraceSpan;
  private readonly open = new Map<string, Building>();
  private readonly done: TraceSpan[] = [];
  private readonly content: boolean;
  private readonly maxBytes: number;
  private readonly startMs: number;
  private readonly endMs: number;
  private readonly inputMessages: unknown[] = [];

  private readonly last: SessionEvent;
  private readonly ctx: TurnContext;

  constructor(first: SessionEvent, last: SessionEvent, ctx: TurnContext) {
    this.last = last;
    this.ctx = ctx;
    this.traceId = hash64(first.id, SEED_TRACE_HI) + hash64(first.id, SEED_TRACE_LO);
    this.content = ctx.contentMode === 'content';
    this.maxBytes = ctx.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
    this.startMs = Date.parse(first.processed_at);
    this.endMs = Date.parse(last.processed_at);
    const agentName = ctx.agentName ?? ctx.agentId;
    this.root = {
      traceId: this.traceId,
      spanId: hash64(first.id, SEED_ROOT),
      name: `invoke_agent ${agentName}`,
      kind: 'internal',
      startMs: this.startMs,
      endMs: this.endMs,
      status: { code: 'unset' },
      attributes: {
        ...this.ids(first, last),
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.agent.id': ctx.agentId,
        'gen_ai.agent.name': agentName,
        'gen_ai.conversation.id': ctx.sessionId,
        'gen_ai.request.model': ctx.model,
        ...(ctx.agentVersion !== undefined ? { 'gen_ai.agent.version': String(ctx.agentVersion) } : {}),
      },
      events: [],
    };
  }

  /** One event of the log; `next` is the one after it (what a failed model request's error is read from). */
  take(ev: SessionEvent, next: SessionEvent | undefined): void {
    switch (ev.type) {
      case 'span.model_request_start':
        return this.startChat(ev);
      case 'span.model_request_end':
        return this.endChat(ev, next);
      case 'agent.tool_use':
      case 'agent.mcp_tool_use':
      case 'agent.custom_tool_use':
        return this.startTool(ev);
      case 'user.tool_confirmation':
        return this.confirmTool(ev);
      case 'agent.tool_result':
        return this.endTool(ev, ev.tool_use_id);
      case 'agent.mcp_tool_result':
        return this.endTool(ev, ev.mcp_tool_use_id);
      case 'user.custom_tool_result':
        return this.endTool(ev, ev.custom_tool_use_id);
      case 'user.tool_result':
        return this.endTool(ev, ev.tool_use_id);
      case 'agent.message':
        return this.agentMessage(ev);
      case 'user.message':
        if (this.content) this.inputMessages.push({ role: 'user', parts: parts(ev.content) });
        return;
      case 'agent.thread_context_compacted':
        return this.compaction(ev);
      case 'span.outcome_evaluation_start':
        return this.startEvaluation(ev);
      case 'span.outcome_evaluation_end':
        return this.endEvaluation(ev);
      case 'session.thread_created':
      case 'session.thread_status_running':
        return this.startThread(ev);
      case 'session.thread_status_idle':
        return this.endThread(ev);
      case 'agent.thread_message_sent':
        return this.threadMessage(ev, 'thread.message_sent', { 'edgeharness.thread.to_id': ev.to_session_thread_id });
      case 'agent.thread_message_received':
        return this.threadMessage(ev, 'thread.message_received', { 'edgeharness.thread.from_id': ev.from_session_thread_id });
      case 'session.error':
        return this.sessionError(ev);
      case 'system.message':
        return this.systemMessage(ev);
      case 'session.status_idle':
        return this.idle(ev);
      case 'session.status_terminated':
        this.root.attributes['edgeharness.stop_reason'] = 'terminated';
        return;
      case 'user.interrupt':
        return this.rootEvent(ev, 'user.interrupt', {});
      case 'user.define_outcome':
        return this.rootEvent(ev, 'outcome.defined', { 'edgeharness.outcome.id': ev.outcome_id });
      default:
        // session.status_running, session.deleted: nothing a trace needs beyond the spans above.
        return;
    }
  }

  finish(): TraceSpan[] {
    const awaited = this.awaitedIds();
    for (const [key, b] of this.open) {
      b.span.endMs = this.endMs;
      b.span.attributes['edgeharness.end_event.id'] = this.last.id;
      const startId = String(b.span.attributes['edgeharness.event.id']);
      if (awaited.has(startId)) b.span.attributes['edgeharness.tool.awaiting'] = 'requires_action';
      else b.span.status = { code: 'error', message: INTERRUPTED };
      this.open.delete(key);
      this.done.push(b.span);
    }
    if (this.content && this.inputMessages.length) this.root.attributes['gen_ai.input.messages'] = this.json(this.inputMessages);
    return [this.root, ...this.done];
  }

  // ---------- model requests ----------

  private startChat(ev: EventOf<'span.model_request_start'>): void {
    const model = this.modelOf(threadOf(ev));
    this.begin(`mr:${ev.id}`, ev, chatName(model), 'client', {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      ...(model ? { 'gen_ai.request.model': model } : {}),
    });
  }

  private endChat(ev: EventOf<'span.model_request_end'>, next: SessionEvent | undefined): void {
    const model = this.modelOf(threadOf(ev));
    const b = this.end(`mr:${ev.model_request_start_id}`, ev, chatName(model), 'client');
    const a = b.span.attributes;
    const u = ev.model_usage;
    a['gen_ai.operation.name'] = 'chat';
    a['gen_ai.provider.name'] = 'anthropic';
    if (model) a['gen_ai.request.model'] = model;
    a['gen_ai.usage.input_tokens'] = u.input_tokens;
    a['gen_ai.usage.output_tokens'] = u.output_tokens;
    a['gen_ai.usage.cache_read.input_tokens'] = u.cache_read_input_tokens;
    a['gen_ai.usage.cache_creation.input_tokens'] = u.cache_creation_input_tokens;
    if (model) a['edgeharness.cost_usd'] = listCostUsd(model, u);
    a['edgeharness.retries'] = b.retries;
    if (ev.is_error) {
      // The request's own error follows its end in the same append; a retry's error is counted, not final.
      const failure = next?.type === 'session.error' ? next.error.type : '_OTHER';
      a['error.type'] = failure;
      b.span.status = { code: 'error', message: failure };
    } else {
      // The model's own stop_reason is not stored: a tool call in its answer, or the idle it ended the turn with, says it.
      const reason = b.toolCalls > 0 ? 'tool_use' : next?.type === 'session.status_idle' && !next.stopped_by ? next.stop_reason.type : null;
      if (reason) a['gen_ai.response.finish_reasons'] = [reason];
    }
  }

  private agentMessage(ev: EventOf<'agent.message'>): void {
    if (!this.content) return;
    const chat = this.openChatOn(threadOf(ev));
    const output = this.json([{ role: 'assistant', parts: parts(ev.content) }]);
    if (chat) chat.span.attributes['gen_ai.output.messages'] = output;
    if (threadOf(ev) === null) this.root.attributes['gen_ai.output.messages'] = output;
  }

  // ---------- tool calls ----------

  private startTool(ev: ToolUse): void {
    const mcp = ev.type === 'agent.mcp_tool_use';
    const b = this.begin(`tool:${ev.id}`, ev, `execute_tool ${ev.name}`, mcp ? 'client' : 'internal', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': ev.name,
      'gen_ai.tool.call.id': ev.id,
      // custom tools run in the client's code; the toolset and MCP servers are the agent's extensions
      'gen_ai.tool.type': ev.type === 'agent.custom_tool_use' ? 'function' : 'extension',
      ...(mcp ? { 'edgeharness.mcp.server': ev.mcp_server_name } : {}),
      ...(ev.type !== 'agent.custom_tool_use' && ev.evaluated_permission ? { 'edgeharness.tool.permission': ev.evaluated_permission } : {}),
      ...(this.content ? { 'gen_ai.tool.call.arguments': this.json(ev.input) } : {}),
    });
    const chat = this.openChatOn(b.thread);
    if (chat) chat.toolCalls++;
  }

  private confirmTool(ev: EventOf<'user.tool_confirmation'>): void {
    const b = this.open.get(`tool:${ev.tool_use_id}`) ?? this.orphanTool(ev, ev.tool_use_id);
    b.span.attributes['edgeharness.tool.confirmation'] = ev.result;
    const attributes: SpanAttributes = { 'edgeharness.tool.confirmation': ev.result, 'edgeharness.event.id': ev.id };
    if (this.content && ev.deny_message) attributes['edgeharness.tool.deny_message'] = this.clip(ev.deny_message);
    b.span.events.push({ name: 'tool.confirmation', timeMs: Date.parse(ev.processed_at), attributes });
  }

  private endTool(ev: EventOf<'agent.tool_result' | 'agent.mcp_tool_result' | 'user.custom_tool_result' | 'user.tool_result'>, useId: string): void {
    const b = this.open.get(`tool:${useId}`) ?? this.orphanTool(ev, useId);
    this.close(`tool:${useId}`, b, ev);
    const a = b.span.attributes;
    if (this.content && ev.content) a['gen_ai.tool.call.result'] = this.json(ev.content);
    if (ev.type === 'agent.tool_result' && ev.sandbox_start) a['edgeharness.sandbox.start'] = ev.sandbox_start;
    if (ev.is_error) {
      const type = a['edgeharness.tool.confirmation'] === 'deny' ? 'tool_denied' : 'tool_error';
      a['error.type'] = type;
      b.span.status = { code: 'error', message: type };
    }
  }

  /** A call made in an earlier turn (confirmed or answered by the client since): its name is in that turn's trace. */
  private orphanTool(ev: SessionEvent, useId: string): Building {
    return this.begin(`tool:${useId}`, ev, 'execute_tool', 'internal', { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.id': useId }, this.startMs);
  }

  // ---------- compaction, outcomes, threads ----------

  /** The log records compaction as one event when it is done: its start and its model usage are not stored. */
  private compaction(ev: EventOf<'agent.thread_context_compacted'>): void {
    const b = this.begin(`compaction:${ev.id}`, ev, 'compact_context', 'internal', {
      'gen_ai.operation.name': 'compact_context',
      'edgeharness.compaction.method': ev.method,
      'edgeharness.compaction.compacted_events': ev.compacted_events,
      'edgeharness.compaction.compacted_through': ev.compacted_through,
      ...(ev.fallback_reason ? { 'edgeharness.compaction.fallback_reason': ev.fallback_reason } : {}),
      ...(this.content ? { 'edgeharness.compaction.summary': this.clip(ev.summary) } : {}),
    });
    this.close(`compaction:${ev.id}`, b, ev);
  }

  private startEvaluation(ev: EventOf<'span.outcome_evaluation_start'>): void {
    this.begin(`eval:${ev.id}`, ev, 'outcome_evaluation', 'internal', {
      'gen_ai.operation.name': 'outcome_evaluation',
      'edgeharness.outcome.id': ev.outcome_id,
      'edgeharness.outcome.iteration': ev.iteration,
    });
  }

  private endEvaluation(ev: EventOf<'span.outcome_evaluation_end'>): void {
    const b = this.end(`eval:${ev.outcome_evaluation_start_id}`, ev, 'outcome_evaluation', 'internal');
    const a = b.span.attributes;
    a['edgeharness.outcome.id'] = ev.outcome_id;
    a['edgeharness.outcome.iteration'] = ev.iteration;
    a['edgeharness.outcome.result'] = ev.result;
    a['gen_ai.usage.input_tokens'] = ev.usage.input_tokens;
    a['gen_ai.usage.output_tokens'] = ev.usage.output_tokens;
    a['gen_ai.usage.cache_read.input_tokens'] = ev.usage.cache_read_input_tokens;
    a['gen_ai.usage.cache_creation.input_tokens'] = ev.usage.cache_creation_input_tokens;
    // the grader asks the session's own model
    a['edgeharness.cost_usd'] = listCostUsd(this.ctx.model, ev.usage);
    if (this.content) a['edgeharness.outcome.explanation'] = this.clip(ev.explanation);
  }

  private startThread(ev: EventOf<'session.thread_created' | 'session.thread_status_running'>): void {
    const key = `thread:${ev.session_thread_id}`;
    if (this.open.has(key)) return;
    this.begin(key, ev, `invoke_agent ${ev.agent_name}`, 'internal', this.threadAttributes(ev), undefined, null);
  }

  private endThread(ev: EventOf<'session.thread_status_idle'>): void {
    const key = `thread:${ev.session_thread_id}`;
    const b = this.open.get(key) ?? this.begin(key, ev, `invoke_agent ${ev.agent_name}`, 'internal', this.threadAttributes(ev), this.startMs, null);
    this.close(key, b, ev);
    b.span.attributes['edgeharness.stop_reason'] = ev.stop_reason.type;
  }

  private threadAttributes(ev: { session_thread_id: string; agent_name: string }): SpanAttributes {
    return { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': ev.agent_name, 'edgeharness.thread.id': ev.session_thread_id };
  }

  private threadMessage(ev: EventOf<'agent.thread_message_sent' | 'agent.thread_message_received'>, name: string, attributes: SpanAttributes): void {
    const span = this.parentOf(threadOf(ev));
    const all: SpanAttributes = { ...attributes, 'edgeharness.event.id': ev.id };
    if (this.content) all['edgeharness.thread.message'] = this.json(ev.content);
    span.events.push({ name, timeMs: Date.parse(ev.processed_at), attributes: all });
  }

  // ---------- what the root span records ----------

  private sessionError(ev: EventOf<'session.error'>): void {
    const retry = ev.error.retry_status.type;
    this.rootEvent(ev, 'session.error', { 'error.type': ev.error.type, 'edgeharness.error.message': ev.error.message, 'edgeharness.retry_status': retry });
    if (retry === 'retrying') {
      const chat = this.openChatOn(threadOf(ev));
      if (chat) chat.retries++;
    } else if (threadOf(ev) === null) {
      this.root.status = { code: 'error', message: ev.error.type };
      this.root.attributes['error.type'] = ev.error.type;
    }
  }

  /** Runtime notices the brain writes (`source` set); a client's own system.message is input, not telemetry. */
  private systemMessage(ev: EventOf<'system.message'>): void {
    if (ev.source === 'edgeharness.budget') {
      const notice = ev.content.map((b) => b.text).join('');
      this.rootEvent(ev, 'budget.update', { 'edgeharness.budget.notice': notice });
    } else if (ev.source === 'edgeharness.loop') {
      // the loop key names the call's input: content, so only with content on
      this.rootEvent(ev, 'loop.nudge', this.content && ev.loop_key ? { 'edgeharness.loop.key': this.clip(ev.loop_key) } : {});
    }
  }

  private idle(ev: EventOf<'session.status_idle'>): void {
    const a = this.root.attributes;
    a['edgeharness.stop_reason'] = ev.stop_reason.type;
    if (ev.stopped_by) a['edgeharness.stopped_by'] = ev.stopped_by;
    if (ev.stop_reason.type === 'requires_action') a['edgeharness.requires_action.event_ids'] = ev.stop_reason.event_ids;
    if (ev.limit) this.rootEvent(ev, 'limit.reached', { 'edgeharness.limit': ev.limit, 'edgeharness.stop_reason': ev.stop_reason.type });
  }

  private rootEvent(ev: SessionEvent, name: string, attributes: SpanAttributes): void {
    const event: TraceSpanEvent = { name, timeMs: Date.parse(ev.processed_at), attributes: { ...attributes, 'edgeharness.event.id': ev.id } };
    const thread = threadOf(ev);
    if (thread !== null) event.attributes['edgeharness.thread.id'] = thread;
    this.root.events.push(event);
  }

  // ---------- building spans ----------

  private begin(
    key: string,
    start: SessionEvent,
    name: string,
    kind: TraceSpan['kind'],
    attributes: SpanAttributes,
    startMs = Date.parse(start.processed_at),
    thread = threadOf(start),
  ): Building {
    const b: Building = {
      span: {
        traceId: this.traceId,
        spanId: hash64(start.id, SEED_SPAN),
        parentSpanId: this.parentOf(thread).spanId,
        name,
        kind,
        startMs,
        endMs: startMs,
        status: { code: 'unset' },
        attributes: { ...this.ids(start, null), ...attributes },
        events: [],
      },
      thread,
      toolCalls: 0,
      retries: 0,
    };
    this.open.set(key, b);
    return b;
  }

  /** The span `key` opened, closed at `ev`; one whose start is in an earlier turn begins at this turn's start. */
  private end(key: string, ev: SessionEvent, name: string, kind: TraceSpan['kind']): Building {
    const b = this.open.get(key) ?? this.begin(key, ev, name, kind, {}, this.startMs);
    this.close(key, b, ev);
    return b;
  }

  private close(key: string, b: Building, ev: SessionEvent): void {
    b.span.endMs = Date.parse(ev.processed_at);
    b.span.attributes['edgeharness.end_event.id'] = ev.id;
    this.open.delete(key);
    this.done.push(b.span);
  }

  private parentOf(thread: string | null): TraceSpan {
    return (thread !== null && this.open.get(`thread:${thread}`)?.span) || this.root;
  }

  private openChatOn(thread: string | null): Building | null {
    let found: Building | null = null;
    for (const [key, b] of this.open) if (key.startsWith('mr:') && b.thread === thread) found = b;
    return found;
  }

  private modelOf(thread: string | null): string | undefined {
    return thread === null ? this.ctx.model : this.ctx.threadModels?.[thread];
  }

  private ids(start: SessionEvent, end: SessionEvent | null): SpanAttributes {
    return {
      'edgeharness.session.id': this.ctx.sessionId,
      'edgeharness.agent.id': this.ctx.agentId,
      'edgeharness.workspace.id': this.ctx.workspaceId,
      'edgeharness.event.id': start.id,
      ...(end ? { 'edgeharness.end_event.id': end.id } : {}),
    };
  }

  /** The ids the turn's final `requires_action` waits on: those calls are not interrupted, they await the client. */
  private awaitedIds(): Set<string> {
    const ev = this.last;
    return new Set(ev.type === 'session.status_idle' && ev.stop_reason.type === 'requires_action' ? ev.stop_reason.event_ids : []);
  }

  private json(value: unknown): string {
    return this.clip(JSON.stringify(value));
  }

  private clip(text: string): string {
    return truncateUtf8(text, this.maxBytes);
  }
}

function chatName(model: string | undefined): string {
  return model ? `chat ${model}` : 'chat';
}

// ---------- content ----------

/** Message blocks as GenAI `parts`: text as text, anything else (an image, a document) by its type only. */
function parts(blocks: ReadonlyArray<{ type: string; text?: string }>): unknown[] {
  return blocks.map((b) => (b.type === 'text' ? { type: 'text', content: b.text } : { type: b.type }));
}

/** `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  let cut = Math.max(0, maxBytes);
  // a continuation byte (10xxxxxx) is the middle of a character: back up to the character's first byte
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return new TextDecoder().decode(bytes.subarray(0, cut));
}

// ---------- ids ----------

// Distinct FNV-1a offset bases, so the trace id's halves, the root's id and a child's id differ for one event id.
const SEED_TRACE_HI = 0xcbf29ce484222325n;
const SEED_TRACE_LO = 0x84222325cbf29ce4n;
const SEED_ROOT = 0x9e3779b97f4a7c15n;
const SEED_SPAN = 0xc2b2ae3d27d4eb4fn;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/** FNV-1a, 64-bit, over the UTF-8 of `text`: 16 hex characters, never all zeros (OTLP's "no id"). */
function hash64(text: string, seed: bigint): string {
  let h = seed;
  for (const byte of new TextEncoder().encode(text)) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK_64;
  return (h === 0n ? 1n : h).toString(16).padStart(16, '0');
}
