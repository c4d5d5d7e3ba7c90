// Session threads (sessions/threads.d.ts): the primary thread every session has, and the sub-agent threads its agent
// starts (docs/threads.md). A thread is folded from the session's log: its events carry it (`session_thread_id`,
// absent on the primary thread's), its lifecycle is `session.thread_*` events, its usage its model requests'.
import type * as Threads from '@anthropic-ai/sdk/resources/beta/sessions/threads/threads';
import type { Assignable } from './common.ts';
import type { SessionEvent } from './events.ts';
import type { ThreadAgent } from './multiagent.ts';
import type { SessionAgent, SessionStatus } from './session.ts';

/** The lifecycle events of a sub-agent thread, which the session's own stream shows as well (cross-posted). */
export const CROSS_POSTED_TYPES = ['session.thread_created', 'session.thread_status_running', 'session.thread_status_idle'] as const;
/** Every event type the brain reads to know where each thread stands. */
export const THREAD_EVENT_TYPES = [...CROSS_POSTED_TYPES, 'agent.thread_message_sent', 'agent.thread_message_received'] as const;

/** Which events a reader sees: the session's stream (the primary thread plus cross-posts), or one thread's. */
export type EventView = { kind: 'session' } | { kind: 'thread'; thread: string | null };

/**
 * The primary thread's id, derived from the session's so that every log, older ones too, has it without storing it:
 * `sesn_X` → `sthr_X`. A sub-agent thread's id is random (newId('sthr')).
 */
export function primaryThreadId(sessionId: string): string {
  return `sthr_${sessionId.slice(sessionId.indexOf('_') + 1)}`;
}

/** The thread an event belongs to: null for the primary. */
export function threadOf(ev: SessionEvent): string | null {
  return ev.session_thread_id ?? null;
}

export function visibleIn(ev: SessionEvent, view: EventView): boolean {
  const thread = threadOf(ev);
  if (view.kind === 'thread') return thread === view.thread;
  return thread === null || (CROSS_POSTED_TYPES as readonly string[]).includes(ev.type);
}

/** The same filter in SQL over the log's `thread` column; the arguments follow the clause's placeholders. */
export function viewClause(view: EventView): { sql: string; args: string[] } {
  if (view.kind === 'thread') return view.thread === null ? { sql: 'thread IS NULL', args: [] } : { sql: 'thread = ?', args: [view.thread] };
  return { sql: `(thread IS NULL OR type IN (${CROSS_POSTED_TYPES.map(() => '?').join(',')}))`, args: [...CROSS_POSTED_TYPES] };
}

type ThreadAgentShape = Omit<ThreadAgent, 'version'> & { version: number };
export interface SessionThread {
  id: string;
  type: 'session_thread';
  session_id: string;
  agent: ThreadAgentShape;
  parent_thread_id: string | null;
  status: 'running' | 'idle' | 'rescheduling' | 'terminated';
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  stats: { active_seconds?: number; duration_seconds?: number } | null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens: number;
    cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  } | null;
  workflow_run_id: null;
}
export type SessionThreadIsOfficial = Assignable<Omit<SessionThread, 'agent'>, Omit<Threads.BetaManagedAgentsSessionThread, 'agent'>>;

/** A thread's agent as the thread shows it: the definition without `multiagent` (the roster is on the session). */
function threadAgent(agent: SessionAgent | ThreadAgent): ThreadAgentShape {
  const { multiagent: _roster, ...rest } = agent as SessionAgent;
  return rest;
}

/**
 * Every thread of a session, oldest first, folded from its lifecycle events and model request ends (any order of
 * types; read in log order). `roster` finds a sub-agent's pinned definition by name.
 */
export function foldThreads(args: {
  sessionId: string;
  agent: SessionAgent;
  roster: (name: string) => ThreadAgent | undefined;
  status: SessionStatus;
  createdAt: string;
  archived: Map<string, string>;
  events: SessionEvent[];
}): SessionThread[] {
  const primary = primaryThreadId(args.sessionId);
  const threads = new Map<string, SessionThread>();
  const blank = (id: string, agent: ThreadAgentShape, createdAt: string, parent: string | null): SessionThread => ({
    id,
    type: 'session_thread',
    session_id: args.sessionId,
    agent,
    parent_thread_id: parent,
    status: 'idle',
    created_at: createdAt,
    updated_at: createdAt,
    archived_at: args.archived.get(id) ?? null,
    stats: null,
    usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 } },
    workflow_run_id: null,
  });
  const main = blank(primary, threadAgent(args.agent), args.createdAt, null);
  threads.set(primary, main);
  for (const ev of args.events) {
    const id = threadOf(ev) ?? primary;
    if (ev.type === 'session.thread_created') {
      const agent = args.roster(ev.agent_name);
      if (!agent) continue;
      threads.set(id, blank(id, threadAgent(agent), ev.processed_at, primary));
      continue;
    }
    const t = threads.get(id);
    if (!t) continue;
    t.updated_at = ev.processed_at;
    if (ev.type === 'session.thread_status_running') t.status = 'running';
    if (ev.type === 'session.thread_status_idle') t.status = 'idle';
    if (ev.type === 'span.model_request_end' && t.usage) {
      t.usage.input_tokens += ev.model_usage.input_tokens;
      t.usage.output_tokens += ev.model_usage.output_tokens;
      t.usage.cache_read_input_tokens += ev.model_usage.cache_read_input_tokens;
      t.usage.cache_creation.ephemeral_5m_input_tokens += ev.model_usage.cache_creation_input_tokens;
    }
  }
  // The primary thread runs when the session does.
  main.status = args.status;
  return [...threads.values()];
}
