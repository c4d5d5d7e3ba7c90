// Session events as the log stores and streams them: the official SDK's event types (events.d.ts), plus the few
// fields this runtime adds (docs/api-extensions.md), and one constructor per kind of event the runtime writes.
// Everything that appends an event builds it here, so a misspelt type or field fails `tsc`, not a client.
import type * as Official from '@anthropic-ai/sdk/resources/beta/sessions/events';
import type * as OfficialSessions from '@anthropic-ai/sdk/resources/beta/sessions/sessions';
import type { EventParams } from './event.ts';
import type { Limits } from './session.ts';
import type { Assignable } from './common.ts';
import type { SandboxStart } from '../sandbox/hands.ts';

// ---------- the stored events ----------

/** Which budget or limit stopped the loop (extension field `limit` on `session.status_idle`). */
export type BudgetLimit = 'budget' | keyof Limits;
/** What ended a turn that stopped short of the model's answer (extension field `stopped_by`). */
export type StoppedBy = 'loop_detection' | 'compaction_limit';

export type StatusIdleEvent = Official.BetaManagedAgentsSessionStatusIdleEvent & { limit?: BudgetLimit; stopped_by?: StoppedBy };
/** `source` names who wrote it (`edgeharness.budget`, `edgeharness.loop`); `loop_key` the call a loop nudge is about. */
export type SystemMessageEvent = OfficialSessions.BetaManagedAgentsSystemMessageEvent & { source?: string; loop_key?: string };
/**
 * `sandbox_start` (extension) says whether the call had to start the session's sandbox (`cold`: its first call, or
 * the first after the sandbox died or was stopped) or found it running (`warm`). Only on the results of calls that
 * ran in the sandbox: absent on a call refused before it ran, and on one whose sandbox could not be started or reached.
 */
export type ToolResultEvent = Official.BetaManagedAgentsAgentToolResultEvent & { sandbox_start?: SandboxStart };
export type ContextCompactedEvent = Official.BetaManagedAgentsAgentThreadContextCompactedEvent & {
  /** The last event folded into the summary; later contexts start after it. */
  compacted_through: string;
  compacted_events: number;
  method: 'model' | 'trim';
  summary: string;
  /** Why the model's summary was not used (method `trim`). */
  fallback_reason?: string;
};

/**
 * The kinds of event a session's log holds: client input as the API accepted it, and what the runtime appends.
 * Each is the official type (with the extension fields above); `processed_at` is always set once stored.
 */
export type SessionEvent = (
  | Official.BetaManagedAgentsUserMessageEvent
  | Official.BetaManagedAgentsUserInterruptEvent
  | Official.BetaManagedAgentsUserToolConfirmationEvent
  | Official.BetaManagedAgentsUserCustomToolResultEvent
  | OfficialSessions.BetaManagedAgentsUserToolResultEvent
  | SystemMessageEvent
  | Official.BetaManagedAgentsAgentMessageEvent
  | Official.BetaManagedAgentsAgentToolUseEvent
  | Official.BetaManagedAgentsAgentCustomToolUseEvent
  | ToolResultEvent
  | Official.BetaManagedAgentsAgentMCPToolUseEvent
  | Official.BetaManagedAgentsAgentMCPToolResultEvent
  | ContextCompactedEvent
  | Official.BetaManagedAgentsSessionErrorEvent
  | Official.BetaManagedAgentsSessionStatusRunningEvent
  | StatusIdleEvent
  | Official.BetaManagedAgentsSessionStatusTerminatedEvent
  | Official.BetaManagedAgentsSessionDeletedEvent
  | Official.BetaManagedAgentsSpanModelRequestStartEvent
  | Official.BetaManagedAgentsSpanModelRequestEndEvent
  | Official.BetaManagedAgentsUserDefineOutcomeEvent
  | Official.BetaManagedAgentsSpanOutcomeEvaluationStartEvent
  | Official.BetaManagedAgentsSpanOutcomeEvaluationOngoingEvent
  | Official.BetaManagedAgentsSpanOutcomeEvaluationEndEvent
  | Official.BetaManagedAgentsSessionThreadCreatedEvent
  | Official.BetaManagedAgentsSessionThreadStatusRunningEvent
  | Official.BetaManagedAgentsSessionThreadStatusIdleEvent
  | Official.BetaManagedAgentsAgentThreadMessageSentEvent
  | Official.BetaManagedAgentsAgentThreadMessageReceivedEvent
) & {
  processed_at: string;
  /**
   * The sub-agent thread the event belongs to (extension on the kinds whose official type lacks it); absent on the
   * primary thread's events, as the SDK says of the kinds that have it (docs/threads.md).
   */
  session_thread_id?: string | null;
};

export type SessionEventType = SessionEvent['type'];
export type EventOf<T extends SessionEventType> = Extract<SessionEvent, { type: T }>;

/** An event before the log stamps it: no `processed_at`, and an `id` only when the writer chose it in advance. */
export type NewEvent<T extends SessionEventType = SessionEventType> = T extends SessionEventType
  ? Omit<EventOf<T>, 'id' | 'processed_at'> & { id?: string }
  : never;

/** What live readers get besides stored events while the model writes (never stored). */
export type LiveDelta = OfficialSessions.BetaManagedAgentsStartEvent | OfficialSessions.BetaManagedAgentsDeltaEvent;

export type SessionErrorObject = Official.BetaManagedAgentsSessionErrorEvent['error'];
export type StopReason = Official.BetaManagedAgentsSessionStatusIdleEvent['stop_reason'];
export type ModelUsage = Official.BetaManagedAgentsSpanModelUsage;
type TextBlock = Official.BetaManagedAgentsTextBlock;
type ToolResultBlock = NonNullable<Official.BetaManagedAgentsAgentToolResultEvent['content']>[number];
type McpToolResultBlock = NonNullable<Official.BetaManagedAgentsAgentMCPToolResultEvent['content']>[number];

/** Client input the log stores as sent (`user.define_outcome` is stored as `userDefineOutcome` builds it). */
export type StoredInput = Exclude<EventParams, { type: 'user.define_outcome' }>;

// The contract, checked by the compiler: what the log stores and what the stream sends are official events, and
// input the API accepted is one of them once the log has stamped it.
export type StoredEventsAreOfficial = Assignable<SessionEvent, Official.BetaManagedAgentsSessionEvent>;
export type StreamedEventsAreOfficial = Assignable<SessionEvent | LiveDelta, Official.BetaManagedAgentsStreamSessionEvents>;
export type AcceptedInputIsStored = Assignable<StoredInput & { id: string; processed_at: string }, SessionEvent>;

// ---------- constructors: one per kind of event the runtime writes ----------

export function statusRunning(): NewEvent<'session.status_running'> {
  return { type: 'session.status_running' };
}

/** The session stops and waits for its user; `extension` says which limit, or what cut the turn short. */
export function statusIdle(stop_reason: StopReason, extension: { limit?: BudgetLimit; stopped_by?: StoppedBy } = {}): NewEvent<'session.status_idle'> {
  return { type: 'session.status_idle', stop_reason, stop_details: null, ...extension };
}

export function sessionError(error: SessionErrorObject): NewEvent<'session.error'> {
  return { type: 'session.error', error };
}

export function spanModelRequestStart(): NewEvent<'span.model_request_start'> {
  return { type: 'span.model_request_start' };
}

export function spanModelRequestEnd(startId: string, usage: ModelUsage, isError: boolean): NewEvent<'span.model_request_end'> {
  return {
    type: 'span.model_request_end',
    model_request_start_id: startId,
    is_error: isError,
    model_usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
    },
  };
}

/** `id` is chosen before the model writes, so live deltas and the stored message share it. */
export function agentMessage(id: string, content: TextBlock[]): NewEvent<'agent.message'> {
  return { id, type: 'agent.message', content };
}

export function agentToolUse(name: string, input: Record<string, unknown>, permission: 'allow' | 'ask'): NewEvent<'agent.tool_use'> {
  return { type: 'agent.tool_use', name, input, evaluated_permission: permission };
}

export function agentCustomToolUse(name: string, input: Record<string, unknown>): NewEvent<'agent.custom_tool_use'> {
  return { type: 'agent.custom_tool_use', name, input };
}

/** `extension.sandbox_start` only for a call that ran in the sandbox (see `ToolResultEvent`). */
export function agentToolResult(
  toolUseId: string,
  content: ToolResultBlock[],
  isError: boolean,
  extension: { sandbox_start?: SandboxStart } = {},
): NewEvent<'agent.tool_result'> {
  return { type: 'agent.tool_result', tool_use_id: toolUseId, content, is_error: isError, ...extension };
}

/** A call to a tool of the agent's MCP server `server`; `name` is the tool's own name on that server. */
export function agentMcpToolUse(server: string, name: string, input: Record<string, unknown>, permission: 'allow' | 'ask'): NewEvent<'agent.mcp_tool_use'> {
  return { type: 'agent.mcp_tool_use', mcp_server_name: server, name, input, evaluated_permission: permission };
}

export function agentMcpToolResult(mcpToolUseId: string, content: McpToolResultBlock[], isError: boolean): NewEvent<'agent.mcp_tool_result'> {
  return { type: 'agent.mcp_tool_result', mcp_tool_use_id: mcpToolUseId, content, is_error: isError };
}

/** A runtime notice to the model, e.g. a budget or loop warning; `source` says who wrote it. */
export function systemMessage(text: string, extension: { source: string; loop_key?: string }): NewEvent<'system.message'> {
  return { type: 'system.message', ...extension, content: [{ type: 'text', text }] };
}

export function contextCompacted(fields: Omit<NewEvent<'agent.thread_context_compacted'>, 'type' | 'id'>): NewEvent<'agent.thread_context_compacted'> {
  return { type: 'agent.thread_context_compacted', ...fields };
}

/**
 * The echo of a `user.define_outcome` the API accepted, with the `outc_` id the log assigned. `rubric` is already
 * text: a file rubric is resolved to the file's text when the event is sent, as the official echo describes.
 */
export function userDefineOutcome(
  outcomeId: string,
  p: { description: string; rubric: { type: 'text'; content: string }; max_iterations?: number | null | undefined },
): NewEvent<'user.define_outcome'> {
  return { type: 'user.define_outcome', outcome_id: outcomeId, description: p.description, rubric: p.rubric, max_iterations: p.max_iterations ?? null };
}

export function outcomeEvaluationStart(outcomeId: string, iteration: number): NewEvent<'span.outcome_evaluation_start'> {
  return { type: 'span.outcome_evaluation_start', outcome_id: outcomeId, iteration };
}

/** The heartbeat that says a grader is still at work on this evaluation. */
export function outcomeEvaluationOngoing(outcomeId: string, iteration: number): NewEvent<'span.outcome_evaluation_ongoing'> {
  return { type: 'span.outcome_evaluation_ongoing', outcome_id: outcomeId, iteration };
}

export function outcomeEvaluationEnd(
  start: { id: string; outcome_id: string; iteration: number },
  result: string,
  explanation: string,
  usage: ModelUsage,
): NewEvent<'span.outcome_evaluation_end'> {
  return {
    type: 'span.outcome_evaluation_end',
    outcome_evaluation_start_id: start.id,
    outcome_id: start.outcome_id,
    iteration: start.iteration,
    result,
    explanation,
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
    },
  };
}

/** A sub-agent thread was started (stored in that thread; the session's stream shows it too). */
export function threadCreated(threadId: string, agentName: string): NewEvent<'session.thread_created'> {
  return { type: 'session.thread_created', session_thread_id: threadId, agent_name: agentName, workflow_run_id: null };
}

export function threadStatusRunning(threadId: string, agentName: string): NewEvent<'session.thread_status_running'> {
  return { type: 'session.thread_status_running', session_thread_id: threadId, agent_name: agentName };
}

export function threadStatusIdle(threadId: string, agentName: string, stop_reason: StopReason): NewEvent<'session.thread_status_idle'> {
  return { type: 'session.thread_status_idle', session_thread_id: threadId, agent_name: agentName, stop_reason, stop_details: null };
}

type ThreadMessageContent = Official.BetaManagedAgentsAgentThreadMessageSentEvent['content'];

/** On the sender's thread: a message to another thread (`toAgentName` absent when sent to the primary agent). */
export function threadMessageSent(toThreadId: string, content: ThreadMessageContent, toAgentName?: string): NewEvent<'agent.thread_message_sent'> {
  return { type: 'agent.thread_message_sent', content, to_session_thread_id: toThreadId, ...(toAgentName ? { to_agent_name: toAgentName } : {}) };
}

/** On the receiver's thread: a message from another thread (`fromAgentName` absent when from the primary agent). */
export function threadMessageReceived(fromThreadId: string, content: ThreadMessageContent, fromAgentName?: string): NewEvent<'agent.thread_message_received'> {
  return { type: 'agent.thread_message_received', content, from_session_thread_id: fromThreadId, ...(fromAgentName ? { from_agent_name: fromAgentName } : {}) };
}

/** Sent to live readers as the session is deleted; never stored (the log goes with it). */
export function sessionDeleted(id: string, processedAt: string): EventOf<'session.deleted'> {
  return { id, type: 'session.deleted', processed_at: processedAt };
}

/** The start of a live preview of the agent.message that will be stored under `eventId`. */
export function messageStart(eventId: string): LiveDelta {
  return { type: 'event_start', event: { id: eventId, type: 'agent.message' } };
}

export function messageDelta(eventId: string, index: number, text: string): LiveDelta {
  return { type: 'event_delta', event_id: eventId, delta: { type: 'content_delta', index, content: { type: 'text', text } } };
}
