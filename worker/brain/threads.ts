// Sub-agent threads in the step (docs/threads.md). A session whose agent has sub-agents offers its primary thread the
// `delegate` tool; a delegate call starts (or messages) the thread of the agent it names, and until that thread
// answers, each step works for it: the same phases, the helper's own context, tools and model requests, every event
// it appends carrying the thread. The thread's answer lands in one append with the call's result on the primary
// thread. All of it is read back from the log, so a brain that dies mid-thread leaves nothing a fresh one cannot
// continue, and threads run one at a time, within the session's lease and budget.
import {
  agentMcpToolResult, agentToolResult, threadCreated, threadMessageReceived, threadMessageSent, threadStatusIdle, threadStatusRunning,
  type NewEvent, type SessionEvent, type StopReason,
} from '../../contract/events.ts';
import { newId } from '../../contract/ids.ts';
import { delegateRoster, type ThreadAgent } from '../../contract/multiagent.ts';
import type { SessionAgent } from '../../contract/session.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import { primaryThreadId, threadOf, THREAD_EVENT_TYPES } from '../../contract/threads.ts';
import { DELEGATE_TOOL, delegateInput, delegateTool } from './delegate-tool.ts';
import type { LogPort } from './ports.ts';
import type { ResolvedTool } from './tools.ts';

export { THREAD_EVENT_TYPES };

/** The sub-agent thread a step works for, and the primary thread's delegate call it answers. */
export interface ThreadFocus {
  id: string;
  agentName: string;
  /** The primary thread's `delegate` call this thread's answer is the result of. */
  callId: string;
  /** The thread's agent, as a step runs an agent: no `multiagent` (depth limit 1). */
  agent: SessionAgent;
}

/** The agents the session's primary thread can delegate to. */
export function roster(spec: SessionSpec): ThreadAgent[] {
  return delegateRoster(spec.agent.multiagent);
}

/** The primary thread is offered `delegate` when its agent has sub-agents to delegate to. */
export function offerDelegate(tools: Map<string, ResolvedTool>, spec: SessionSpec): void {
  const agents = roster(spec);
  if (agents.length && !tools.has(DELEGATE_TOOL)) tools.set(DELEGATE_TOOL, delegateTool(agents));
}

/** One thread's events (null: the primary's), in log order. */
export function eventsOf(events: readonly SessionEvent[], thread: string | null): SessionEvent[] {
  return events.filter((e) => threadOf(e) === thread);
}

/** The primary thread's events less its delegate calls, which the brain settles itself (focusThread), never the hands. */
export function withoutDelegateCalls(events: SessionEvent[]): SessionEvent[] {
  return events.filter((e) => !(e.type === 'agent.tool_use' && e.name === DELEGATE_TOOL));
}

/** The log as a step working for a thread uses it: the thread's model text streams to the thread's readers. */
export function threadLog(log: LogPort, threadId: string): LogPort {
  return {
    readForStep: (epoch, types) => log.readForStep(epoch, types),
    emit: (epoch, events, opts) => log.emit(epoch, events, opts),
    release: (epoch) => log.release(epoch),
    broadcastDelta: (epoch, delta) => log.broadcastDelta(epoch, delta, threadId),
    stillHolds: (epoch) => log.stillHolds(epoch),
    claimCall: (epoch, key) => log.claimCall(epoch, key),
  };
}

/** A sub-agent thread's events as its context reads them: each message it received is a user turn. */
export function threadContext(events: SessionEvent[]): SessionEvent[] {
  return events.map((e) => (e.type === 'agent.thread_message_received' ? ({ id: e.id, type: 'user.message', content: e.content, processed_at: e.processed_at } as SessionEvent) : e));
}

/**
 * Which thread this step works for. The first open delegate call of the primary thread decides: a bad one is answered
 * with an error; a good one whose thread is running is worked on; otherwise its thread is started (or messaged, if
 * the agent has one) in one append, and worked on. No open call: the primary thread (null).
 */
export async function focusThread(
  spec: SessionSpec,
  events: readonly SessionEvent[],
  archived: readonly string[],
  emit: (events: NewEvent[]) => Promise<SessionEvent[]>,
): Promise<ThreadFocus | null> {
  const agents = roster(spec);
  if (!agents.length) return null;
  const primary = eventsOf(events, null);
  const answered = new Set(primary.flatMap((e) => (e.type === 'agent.tool_result' ? [e.tool_use_id] : [])));
  for (const call of primary) {
    if (call.type !== 'agent.tool_use' || call.name !== DELEGATE_TOOL || answered.has(call.id)) continue;
    const parsed = delegateInput(call.input, agents);
    if (typeof parsed === 'string') {
      await emit([agentToolResult(call.id, [{ type: 'text', text: parsed }], true)]);
      continue;
    }
    const name = parsed.agent.name;
    const focus: Omit<ThreadFocus, 'id'> = { agentName: name, callId: call.id, agent: { ...parsed.agent, multiagent: null } };
    const thread = threadState(events, name);
    if (thread?.running) return { id: thread.id, ...focus };
    if (thread && archived.includes(thread.id)) {
      await emit([agentToolResult(call.id, [{ type: 'text', text: `The ${name} agent's thread was archived; it takes no more messages.` }], true)]);
      continue;
    }
    const id = thread?.id ?? newId('sthr');
    const content = [{ type: 'text' as const, text: parsed.message }];
    await emit([
      ...(thread ? [] : [threadCreated(id, name)]),
      threadMessageSent(id, content, name),
      { ...threadMessageReceived(primaryThreadId(spec.sessionId), content), session_thread_id: id },
      threadStatusRunning(id, name),
    ]);
    return { id, ...focus };
  }
  return null;
}

/** The thread an agent runs in this session (one per agent), and whether it is at work. */
function threadState(events: readonly SessionEvent[], agentName: string): { id: string; running: boolean } | null {
  const created = events.find((e) => e.type === 'session.thread_created' && e.agent_name === agentName);
  if (!created || created.type !== 'session.thread_created') return null;
  const id = created.session_thread_id;
  let running = false;
  for (const e of events) {
    if (e.type === 'session.thread_status_running' && e.session_thread_id === id) running = true;
    if (e.type === 'session.thread_status_idle' && e.session_thread_id === id) running = false;
  }
  return { id, running };
}

/**
 * What a step working for a thread appends, marked as the thread's: every event but the session's own status, and
 * those meant for the primary thread (built with `session_thread_id: null`, which is dropped).
 */
export function tagForThread(focus: ThreadFocus, events: NewEvent[]): NewEvent[] {
  return events.map((ev) => {
    if (ev.type.startsWith('session.status_')) return ev;
    if (ev.session_thread_id === null) {
      const { session_thread_id: _primary, ...rest } = ev;
      return rest as NewEvent;
    }
    return ev.session_thread_id === undefined ? ({ ...ev, session_thread_id: focus.id } as NewEvent) : ev;
  });
}

function forPrimary<E extends NewEvent>(ev: E): E {
  return { ...ev, session_thread_id: null };
}

/**
 * The thread's turn ended with an answer: in one append, its message goes back to the primary thread (sent here,
 * received there), the thread goes idle, and the delegate call gets the answer as its result.
 */
export function finishThread(focus: ThreadFocus, spec: SessionSpec, answer: NewEvent[]): NewEvent[] {
  const text = answer.flatMap((e) => (e.type === 'agent.message' ? e.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])) : [])).join('\n').trim();
  const content = [{ type: 'text' as const, text: text || `(${focus.agentName} finished without a message)` }];
  return [
    ...answer,
    threadMessageSent(primaryThreadId(spec.sessionId), content),
    threadStatusIdle(focus.id, focus.agentName, { type: 'end_turn' }),
    forPrimary(threadMessageReceived(focus.id, content, focus.agentName)),
    forPrimary(agentToolResult(focus.callId, content, false)),
  ];
}

/**
 * The step stopped the turn while working for a thread (a budget, a limit, the model failing): the thread goes idle
 * with the same reason and the delegate call is answered with an error saying so, before the session's own idle.
 */
export function stopThread(focus: ThreadFocus, events: NewEvent[]): NewEvent[] {
  const idle = events.find((e) => e.type === 'session.status_idle');
  const reason: StopReason = idle?.type === 'session.status_idle' ? idle.stop_reason : { type: 'end_turn' };
  const why = idle?.type === 'session.status_idle' && idle.limit ? `the session reached its ${idle.limit} limit` : `it stopped (${reason.type})`;
  const closing: NewEvent[] = [
    threadStatusIdle(focus.id, focus.agentName, reason),
    forPrimary(agentToolResult(focus.callId, [{ type: 'text', text: `The ${focus.agentName} agent did not finish: ${why}.` }], true)),
  ];
  const at = idle ? events.indexOf(idle) : events.length;
  return [...events.slice(0, at), ...closing, ...events.slice(at)];
}

const NOT_IN_THREAD =
  'Not run: a sub-agent thread runs only tools that need neither a confirmation nor the client; custom tools and ' +
  'always_ask tools are not available in sub-agent threads yet.';

/** Calls a thread made that would wait for the client: answered with an error, so the thread goes on. */
export function refuseWaiting(events: readonly SessionEvent[], ids: string[]): NewEvent[] {
  return ids.map((id) => {
    const call = events.find((e) => e.id === id);
    return call?.type === 'agent.mcp_tool_use'
      ? agentMcpToolResult(id, [{ type: 'text', text: NOT_IN_THREAD }], true)
      : agentToolResult(id, [{ type: 'text', text: NOT_IN_THREAD }], true);
  });
}
