// SessionLog: one Durable Object per session. The append-only event log (the only state of a session), the
// brain's lease with its fencing epoch, the wake/watchdog alarm, and live fan-out to SSE and WebSocket readers.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { telemetryOutbox, webhookOutbox, workspaceStore } from './stubs.ts';
import { turnSpans } from '../contract/telemetry-spans.ts';
import { sessionWebhookEvents } from '../contract/webhook.ts';
import { migrate } from '../resources/shared/migrations.ts';
import { SESSION_LOG_MIGRATIONS } from './session-log-schema.ts';
import { newId } from '../contract/ids.ts';
import type { EventParams } from '../contract/event.ts';
import {
  agentToolResult, outcomeEvaluationEnd, outcomeEvaluationStart, sessionDeleted, threadStatusIdle, type StopReason, statusIdle, userDefineOutcome, type EventOf, type LiveDelta, type NewEvent, type SessionEvent,
  type StoredInput,
} from '../contract/events.ts';
import { activeOutcome, evaluationsEnded, openEvaluation, OUTCOME_EVENT_TYPES, outcomeEvaluations } from '../contract/outcome.ts';
import type { SessionSpec, SessionSpecChange } from '../contract/session-spec.ts';
import { foldThreads, primaryThreadId, THREAD_EVENT_TYPES, viewClause, visibleIn, type EventView, type SessionThread } from '../contract/threads.ts';
import { delegateRoster, DELEGATE_TOOL } from '../contract/multiagent.ts';
import { emptyUsage, type SessionRuntime, type SessionStatus, type SessionUsage } from '../contract/session.ts';

/** SQLite rows are capped at 2 MB; payloads above this many bytes are split into chunk rows. */
const INLINE_LIMIT = 1_000_000;
const DEFAULT_LEASE_MS = 30_000;
/** Upper bound on the bytes one positional read returns, so a page of large events stays within RPC limits. */
const READ_BYTE_BUDGET = 16_000_000;
const SSE_PING_MS = 15_000;

/** The events that end a turn, and with it a trace (contract/telemetry-spans.ts). */
const TURN_ENDS: ReadonlySet<string> = new Set(['session.status_idle', 'session.status_terminated']);

/** Where the session stands: status, lease, input answered, accounting. Written with every append. */
export interface RunState {
  status: SessionStatus;
  epoch: number;
  /** Set while a brain holds the lease; `until` is when the watchdog may hand it to another brain. */
  lease: { epoch: number; until: number } | null;
  /** seq of the newest user input that asks for a turn, and of the newest one a completed step answered. */
  inputSeq: number;
  consumedSeq: number;
  usage: SessionUsage;
  /** List cost so far in USD (usage.list_cost shows it rounded); the official budget is checked against it. */
  spentUsd: number;
  /** When max_wall_seconds runs out (ms), and whether the alarm has acted on it. */
  wallDeadline: number | null;
  wallFired: boolean;
  activeMs: number;
  runningSince: number | null;
}

/** All the log keeps besides its events: the session's spec and its run state. */
export interface LogState extends RunState {
  spec: SessionSpec;
}

/** What a session's log starts from. */
export interface LogInit {
  spec: SessionSpec;
  /** System events the log starts with (e.g. a credential its environment cannot reach), before any input. */
  notices?: NewEvent[];
}

export type Refusal = { ok: false; error: { type: 'invalid_request_error' | 'stale_epoch' | 'not_found_error'; message: string } };

/** What one brain step reads: the session's spec, where it stands, and the events of the types it asked for. */
export interface StepView {
  ok: true;
  spec: SessionSpec;
  status: SessionStatus;
  usage: SessionUsage;
  spentUsd: number;
  /** seq of the newest input asking for a turn: what the step answers when it ends the turn. */
  inputSeq: number;
  /** Input is waiting for an answer. */
  pending: boolean;
  /** Sub-agent threads archived through the API: the agent can no longer message them. */
  archivedThreads: string[];
  events: SessionEvent[];
}

export interface EmitOptions {
  /** The step is over: release the lease (and wake again if input arrived meanwhile). */
  release?: boolean;
  /** Highest input seq this emit answers; input newer than it keeps the session pending. */
  consumedSeq?: number;
  /** The emit answers all input the log holds: for a brain that could not read the session to learn how much. */
  consumeAllInput?: boolean;
  usage?: Partial<Pick<SessionUsage, 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens'>> & {
    cache_creation_input_tokens?: number;
  };
  /** The list cost of the model request this emit reports, in USD. */
  costUsd?: number;
}

interface SseSubscriber {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  deltas: boolean;
  /** The session's stream, or one thread's (docs/threads.md). */
  view: EventView;
}

interface Stored {
  seq: number;
  event: SessionEvent;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SessionLog extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private state: LogState | null;
  private readonly sse = new Set<SseSubscriber>();
  private pingTimer: ReturnType<typeof setInterval> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, SESSION_LOG_MIGRATIONS);
    this.state = this.load();
  }

  // ---------- lifecycle ----------

  /** Creates the log for a new session. Idempotent: a second call with the same id changes nothing. */
  async init({ spec, notices }: LogInit): Promise<void> {
    if (this.state) return;
    this.state = {
      spec,
      spentUsd: 0,
      wallDeadline: wallDeadline(spec),
      wallFired: false,
      status: 'idle',
      epoch: 0,
      lease: null,
      inputSeq: 0,
      consumedSeq: 0,
      usage: emptyUsage(),
      activeMs: 0,
      runningSince: null,
    };
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      for (const ev of notices ?? []) this.insert(stamp(ev, newId('sevt'), now));
      this.saveSpec();
      this.save();
    });
    await this.rearm();
  }

  /** Session update changed the agent's tools, the budget or the limits: later steps use the new ones. */
  async configure(change: SessionSpecChange): Promise<void> {
    const st = this.requireState();
    if (change.agent) st.spec.agent = change.agent;
    if (change.budget !== undefined) st.spec.budget = change.budget;
    if (change.limits) {
      st.spec.limits = change.limits;
      st.wallDeadline = wallDeadline(st.spec);
      st.wallFired = false;
    }
    this.ctx.storage.transactionSync(() => {
      this.saveSpec();
      this.save();
    });
    await this.rearm();
  }

  /** Session deletion: tell live readers, close them, drop every row. */
  async destroy(): Promise<void> {
    if (this.state) {
      this.broadcast(sessionDeleted(newId('sevt'), new Date().toISOString()));
    }
    for (const sub of this.sse) void sub.writer.close().catch(() => {});
    this.sse.clear();
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, 'session deleted');
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.state = null;
  }

  // ---------- client input ----------

  /**
   * Appends client events (already schema-checked by the API). All-or-nothing: if any event is refused,
   * nothing is appended. A `user.message` asks for a turn and wakes the brain.
   */
  async appendInput(input: EventParams[]): Promise<{ ok: true; events: SessionEvent[] } | Refusal> {
    const st = this.state;
    if (!st) return refuse('not_found_error', 'session not found');
    if (st.status === 'terminated') return refuse('invalid_request_error', 'session is terminated and accepts no events');
    const accepted: Array<StoredInput | NewEvent<'user.define_outcome'>> = [];
    for (const [i, ev] of input.entries()) {
      const problem = this.checkInput(ev, accepted);
      if (problem) return refuse('invalid_request_error', `events[${i}]${problem}`);
      // An interrupt naming the primary thread is the session's own (its events carry no thread).
      if (ev.type === 'user.interrupt' && ev.session_thread_id === primaryThreadId(st.spec.sessionId)) accepted.push({ type: 'user.interrupt' });
      else if (ev.type !== 'user.define_outcome') accepted.push(ev);
      else if (ev.rubric.type === 'text') accepted.push(userDefineOutcome(newId('outc'), { ...ev, rubric: ev.rubric }));
    }
    const now = new Date().toISOString();
    const stored: Stored[] = [];
    let wantsTurn = false;
    let interrupted = false;
    this.ctx.storage.transactionSync(() => {
      for (const ev of accepted) {
        const s = this.insert(stamp(ev, newId('sevt'), now));
        stored.push(s);
        // A message, an outcome to work toward, or an answer the session was waiting for, asks for a turn.
        if (ev.type === 'user.message' || ev.type === 'user.define_outcome' || ev.type === 'user.tool_confirmation' || ev.type === 'user.custom_tool_result' || ev.type === 'user.tool_result') {
          st.inputSeq = s.seq;
          wantsTurn = true;
        }
        if (ev.type === 'user.interrupt') interrupted = true;
      }
      if (interrupted) this.interrupt(st, stored);
      this.save();
    });
    await this.afterAppend(stored, interrupted);
    // A brain holding the lease picks new input up when it releases; otherwise the alarm wakes one now.
    if (wantsTurn && !interrupted) await this.rearm();
    return { ok: true, events: stored.slice(0, input.length).map((s) => s.event) };
  }

  private checkInput(ev: EventParams, earlier: ReadonlyArray<{ type: string }>): string | null {
    switch (ev.type) {
      case 'user.message':
      case 'system.message':
        return null;
      case 'user.interrupt':
        if (ev.session_thread_id && !this.threadList().some((t) => t.id === ev.session_thread_id))
          return `.session_thread_id: no thread '${ev.session_thread_id}' in this session`;
        return null;
      case 'user.tool_confirmation':
      case 'user.tool_result':
        if (!this.findEvent(ev.tool_use_id, ['agent.tool_use', 'agent.mcp_tool_use']))
          return `.tool_use_id: no tool use '${ev.tool_use_id}' in this session`;
        if (this.answered(ev.tool_use_id)) return `.tool_use_id: tool use '${ev.tool_use_id}' already has a result`;
        if (ev.type === 'user.tool_confirmation' && this.confirmed(ev.tool_use_id))
          return `.tool_use_id: tool use '${ev.tool_use_id}' was already confirmed or denied`;
        return null;
      case 'user.custom_tool_result':
        if (!this.findEvent(ev.custom_tool_use_id, ['agent.custom_tool_use']))
          return `.custom_tool_use_id: no custom tool use '${ev.custom_tool_use_id}' in this session`;
        if (this.answered(ev.custom_tool_use_id)) return `.custom_tool_use_id: custom tool use '${ev.custom_tool_use_id}' already has a result`;
        return null;
      case 'user.define_outcome': {
        // The API resolves a file rubric to its text before it gets here; a file one means a caller skipped that.
        if (ev.rubric.type !== 'text') return `.rubric: a file rubric must be resolved to its text before it is appended`;
        const active = activeOutcome(this.outcomeEvents());
        if (active || earlier.some((e) => e.type === 'user.define_outcome'))
          return `: outcome '${active?.outcome_id ?? 'sent earlier in this request'}' is still being worked on; one outcome at a time (wait until it ends, or send user.interrupt to end it)`;
        return null;
      }
    }
  }

  /**
   * An interrupt ends the running turn now: the epoch moves on, so the brain that was working can no longer
   * append anything (its late answer never lands), and the session goes idle.
   */
  private interrupt(st: LogState, stored: Stored[]): void {
    st.consumedSeq = st.inputSeq;
    const running = st.status === 'running';
    if (running) {
      st.epoch += 1;
      st.lease = null;
    }
    this.endOutcome(stored);
    if (!running) return;
    this.endThreads(stored, 'The user interrupted the session');
    const idle = this.insert(stamp(statusIdle({ type: 'end_turn' }), newId('sevt'), new Date().toISOString()));
    stored.push(idle);
    this.applyStatus(st, 'idle');
  }

  /**
   * A turn ended from outside the brain (an interrupt, the wall clock) ends the sub-agent threads at work with it: each
   * goes idle, and the primary thread's delegate call it was answering gets an error result saying why, so the next
   * turn starts from a settled log (docs/threads.md).
   */
  private endThreads(stored: Stored[], why: string, reason: StopReason = { type: 'end_turn' }): void {
    const now = new Date().toISOString();
    const running = this.threadList().filter((t) => t.parent_thread_id !== null && t.status === 'running');
    for (const t of running) stored.push(this.insert(stamp(threadStatusIdle(t.id, t.agent.name, reason), newId('sevt'), now)));
    const calls = this.sql
      .exec<Row>(`SELECT * FROM events WHERE type = 'agent.tool_use' AND thread IS NULL ORDER BY seq`)
      .toArray()
      .map((r) => this.decode(r))
      .filter((e) => e.type === 'agent.tool_use' && e.name === DELEGATE_TOOL && !this.answered(e.id));
    for (const call of calls) {
      const text = `${why} before the delegated agent answered.`;
      stored.push(this.insert(stamp(agentToolResult(call.id, [{ type: 'text', text }], true), newId('sevt'), now)));
    }
  }

  /**
   * An interrupt ends the active outcome `interrupted`: a grader at work is cut off with the rest of the turn
   * (official), and so is the agent's work toward it, recorded as an evaluation cycle cut short, so the outcome
   * reaches a terminal result and the user can define another.
   */
  private endOutcome(stored: Stored[]): void {
    const events = this.outcomeEvents();
    const outcome = activeOutcome(events);
    if (!outcome) return;
    const now = new Date().toISOString();
    let start = openEvaluation(events);
    const grading = start !== null;
    if (!start) {
      const opened = this.insert(stamp(outcomeEvaluationStart(outcome.outcome_id, evaluationsEnded(events, outcome.outcome_id)), newId('sevt'), now));
      stored.push(opened);
      start = opened.event as EventOf<'span.outcome_evaluation_start'>;
    }
    const why = grading ? 'The user interrupted the session while the outcome was being evaluated.' : 'The user interrupted the session before the work was evaluated.';
    stored.push(this.insert(stamp(outcomeEvaluationEnd(start, 'interrupted', why, NO_USAGE), newId('sevt'), now)));
  }

  // ---------- the brain's side: lease, fenced reads and appends ----------

  /** Alarm: hand the lease to a fresh brain when there is work and no live lease (wake and watchdog in one). */
  override async alarm(): Promise<void> {
    const st = this.state;
    if (!st || st.status === 'terminated') return;
    const now = Date.now();
    if (st.wallDeadline !== null && !st.wallFired && now >= st.wallDeadline) await this.wallClockReached(st);
    if (st.lease && st.lease.until > now) {
      await this.rearm();
      return;
    }
    if (st.inputSeq <= st.consumedSeq) {
      if (st.lease) {
        st.lease = null;
        this.save();
      }
      await this.rearm();
      return;
    }
    st.epoch += 1;
    const epoch = st.epoch;
    st.lease = { epoch, until: now + this.leaseMs() };
    this.save();
    // Watchdog: if this brain dies, the alarm fires again at lease expiry and a new epoch takes over.
    await this.rearm();
    try {
      await this.env.BRAIN.step(st.spec.sessionId, epoch);
    } catch (err) {
      console.error(`brain step failed for ${st.spec.sessionId} at epoch ${epoch}:`, err);
    }
  }

  /** What a brain needs to run one step: the spec, where the session stands, and the events of the given types. */
  async readForStep(epoch: number, types: string[]): Promise<StepView | Refusal> {
    const st = this.state;
    if (!st) return refuse('not_found_error', 'session not found');
    if (!this.holds(st, epoch)) return refuse('stale_epoch', `epoch ${epoch} is stale (current ${st.epoch})`);
    this.extendLease(st);
    const placeholders = types.map(() => '?').join(',');
    const rows = this.sql.exec<Row>(`SELECT * FROM events WHERE type IN (${placeholders}) ORDER BY seq`, ...types).toArray();
    return {
      ok: true,
      spec: st.spec,
      status: st.status,
      usage: st.usage,
      spentUsd: st.spentUsd,
      inputSeq: st.inputSeq,
      pending: st.inputSeq > st.consumedSeq,
      archivedThreads: [...this.archivedThreads().keys()],
      events: rows.map((r) => this.decode(r)),
    };
  }

  /**
   * Fenced append: refused unless `epoch` holds the lease. Status events move the session's status;
   * `opts.release` ends the step and, if input arrived meanwhile, schedules the next one.
   */
  async emit(epoch: number, events: NewEvent[], opts: EmitOptions = {}): Promise<{ ok: true; events: SessionEvent[] } | Refusal> {
    const st = this.state;
    if (!st) return refuse('not_found_error', 'session not found');
    // fenced: a stale brain must not append
    if (!this.holds(st, epoch)) return refuse('stale_epoch', `epoch ${epoch} is stale (current ${st.epoch})`);
    const now = new Date().toISOString();
    const stored: Stored[] = [];
    try {
      this.ctx.storage.transactionSync(() => {
        for (const ev of events) {
          const s = this.insert(stamp(ev, ev.id ?? newId('sevt'), now));
          stored.push(s);
          if (ev.type === 'session.status_running') this.applyStatus(st, 'running');
          if (ev.type === 'session.status_idle') this.applyStatus(st, 'idle');
          if (ev.type === 'session.status_terminated') this.applyStatus(st, 'terminated');
        }
        if (opts.usage) addUsage(st.usage, opts.usage);
        if (opts.costUsd) {
          st.spentUsd += opts.costUsd;
          st.usage.list_cost = { amount: st.spentUsd.toFixed(6), currency: 'USD' };
        }
        if (opts.consumedSeq !== undefined) st.consumedSeq = Math.max(st.consumedSeq, opts.consumedSeq);
        if (opts.consumeAllInput) st.consumedSeq = st.inputSeq;
        if (opts.release) st.lease = null;
        else this.extendLease(st);
        this.save();
      });
    } catch (err) {
      // e.g. a duplicate event id: nothing was appended.
      return refuse('invalid_request_error', `append refused: ${(err as Error).message}`);
    }
    // The index only needs status and usage; other appends (tool calls, spans) leave it as it is.
    await this.afterAppend(stored, opts.usage !== undefined);
    if (opts.release) await this.rearm();
    return { ok: true, events: stored.map((s) => s.event) };
  }

  /** Ends a step that has nothing (more) to append. */
  async release(epoch: number): Promise<boolean> {
    const st = this.state;
    if (!st || !this.holds(st, epoch)) return false;
    st.lease = null;
    this.save();
    await this.rearm();
    return true;
  }

  /** Live-only output (model text as it streams): broadcast to readers that asked for deltas, never stored. */
  async broadcastDelta(epoch: number, delta: LiveDelta, thread?: string): Promise<boolean> {
    const st = this.state;
    if (!st || !this.holds(st, epoch)) return false;
    this.extendLease(st);
    // A sub-agent thread's deltas go to that thread's readers; the session's stream and the primary's get the primary's.
    const of = thread ?? null;
    const wants = (view: EventView | undefined) => (view?.kind === 'thread' ? view.thread === of : of === null);
    const frame = sseFrame(delta.type, delta, null);
    for (const sub of this.sse) if (sub.deltas && wants(sub.view)) this.write(sub, frame);
    const json = JSON.stringify(delta);
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment() as { deltas?: boolean; view?: EventView } | null;
      if (att?.deltas && wants(att.view)) trySend(ws, json);
    }
    return true;
  }

  /** Whether `epoch` still holds the lease: a brain doing long work asks, and stops if an interrupt moved on. */
  async stillHolds(epoch: number): Promise<boolean> {
    return this.state !== null && this.holds(this.state, epoch);
  }

  /**
   * Claims a call the brain runs itself, outside the hands (an MCP tool call), before it runs: true for the first
   * claim of `key`, false after. The claim outlives the brain, so a brain that finds an open call already claimed
   * knows an earlier brain may have run it, and reports it interrupted instead of running it again.
   */
  async claimCall(epoch: number, key: string): Promise<boolean | Refusal> {
    const st = this.state;
    if (!st) return refuse('not_found_error', 'session not found');
    if (!this.holds(st, epoch)) return refuse('stale_epoch', `epoch ${epoch} is stale (current ${st.epoch})`);
    this.extendLease(st);
    const k = `call:${key}`;
    if (this.sql.exec(`SELECT 1 FROM meta WHERE k = ?`, k).toArray().length) return false;
    this.sql.exec(`INSERT INTO meta (k, v) VALUES (?, ?)`, k, JSON.stringify({ epoch, at: new Date().toISOString() }));
    return true;
  }

  /** Test and operator view of the lease, for asserting fencing. */
  leaseInfo(): { epoch: number; lease: LogState['lease'] } | null {
    return this.state ? { epoch: this.state.epoch, lease: this.state.lease } : null;
  }

  // ---------- threads (docs/threads.md) ----------

  /** The session's threads, oldest first: the primary and each sub-agent thread its agent started. */
  async threads(): Promise<SessionThread[] | null> {
    return this.state ? this.threadList() : null;
  }

  private threadList(): SessionThread[] {
    const st = this.requireState();
    const types = [...THREAD_EVENT_TYPES, 'span.model_request_end'];
    const events = this.sql.exec<Row>(`SELECT * FROM events WHERE type IN (${types.map(() => '?').join(',')}) ORDER BY seq`, ...types).toArray().map((r) => this.decode(r));
    const archived = this.archivedThreads();
    const roster = delegateRoster(st.spec.agent.multiagent);
    return foldThreads({
      sessionId: st.spec.sessionId,
      agent: st.spec.agent,
      roster: (name) => roster.find((a) => a.name === name),
      status: st.status,
      createdAt: st.spec.createdAt,
      archived,
      events,
    });
  }

  private archivedThreads(): Map<string, string> {
    const rows = this.sql.exec<{ k: string; v: string }>(`SELECT k, v FROM meta WHERE k LIKE 'thread_archived:%'`).toArray();
    return new Map(rows.map((r) => [r.k.slice('thread_archived:'.length), r.v]));
  }

  /** Archives a sub-agent thread: it keeps its events, and the agent can no longer message it. */
  async archiveThread(threadId: string): Promise<{ ok: true; thread: SessionThread } | Refusal> {
    const threads = await this.threads();
    const thread = threads?.find((t) => t.id === threadId);
    if (!threads || !thread) return refuse('not_found_error', `thread '${threadId}' not found`);
    if (thread.parent_thread_id === null) return refuse('invalid_request_error', `thread '${threadId}' is the session's primary thread, which cannot be archived`);
    if (thread.status === 'running') return refuse('invalid_request_error', `thread '${threadId}' is running; archive it once it is idle`);
    if (thread.archived_at) return { ok: true, thread };
    const at = new Date().toISOString();
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)`, `thread_archived:${threadId}`, at);
    return { ok: true, thread: { ...thread, archived_at: at, updated_at: at } };
  }

  // ---------- positional reads ----------

  /** Events after `afterSeq` (asc) or before `beforeSeq` (desc), optionally of some types; stops at a byte budget. */
  async getEvents(q: { afterSeq?: number; beforeSeq?: number; limit: number; order: 'asc' | 'desc'; types?: string[]; view?: EventView }): Promise<{
    events: Array<{ seq: number; event: SessionEvent }>;
    hasMore: boolean;
  }> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.afterSeq !== undefined) {
      where.push('seq > ?');
      args.push(q.afterSeq);
    }
    if (q.beforeSeq !== undefined) {
      where.push('seq < ?');
      args.push(q.beforeSeq);
    }
    if (q.types?.length) {
      where.push(`type IN (${q.types.map(() => '?').join(',')})`);
      args.push(...q.types);
    }
    const view = viewClause(q.view ?? { kind: 'session' });
    where.push(view.sql);
    args.push(...view.args);
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ?`;
    const rows = this.sql.exec<Row>(sql, ...args, q.limit + 1).toArray();
    const out: Array<{ seq: number; event: SessionEvent }> = [];
    let bytes = 0;
    for (const row of rows.slice(0, q.limit)) {
      if (out.length > 0 && bytes + row.size > READ_BYTE_BUDGET) return { events: out, hasMore: true };
      bytes += row.size;
      out.push({ seq: row.seq, event: this.decode(row) });
    }
    return { events: out, hasMore: rows.length > q.limit };
  }

  async getEventSeq(id: string): Promise<number | null> {
    const row = this.sql.exec<{ seq: number }>(`SELECT seq FROM events WHERE id = ?`, id).toArray()[0];
    return row ? row.seq : null;
  }

  // ---------- live streams ----------

  /**
   * `GET /stream?after_seq=N&deltas=1` (forwarded by the API after auth): SSE, or a hibernatable WebSocket when
   * upgraded. Replays the events after `after_seq`, then streams live ones. The backlog is read and the reader
   * registered in the same synchronous turn, so no append can fall between them: no gap, no duplicate.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const afterParam = url.searchParams.get('after_seq');
    const afterSeq = afterParam === null ? null : Number(afterParam);
    const deltas = url.searchParams.get('deltas') === '1';
    const st = this.state;
    if (!st) return new Response('session not found', { status: 404 });
    const view = this.viewOf(url.searchParams.get('thread'));

    const backlog = afterSeq === null ? [] : this.readAllAfter(afterSeq).filter((ev) => visibleIn(ev, view));

    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const pair = new WebSocketPair();
      const [client, server] = [pair[0], pair[1]];
      this.ctx.acceptWebSocket(server);
      server.serializeAttachment({ deltas, view });
      for (const ev of backlog) trySend(server, JSON.stringify(ev));
      return new Response(null, { status: 101, webSocket: client });
    }

    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const sub: SseSubscriber = { writer: writable.getWriter(), deltas, view };
    this.sse.add(sub);
    this.ensurePing();
    // A comment line first: proxies flush headers and the client knows the stream is open.
    this.write(sub, encoder.encode(': connected\n\n'));
    for (const ev of backlog) this.write(sub, sseFrame(ev.type, ev, ev.id));
    return new Response(readable, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      },
    });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message === 'string' && message.includes('"ping"')) trySend(ws, JSON.stringify({ type: 'pong' }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
    } catch {
      /* already closed */
    }
  }

  // ---------- internals ----------

  private holds(st: LogState, epoch: number): boolean {
    return st.lease !== null && st.lease.epoch === epoch && st.epoch === epoch;
  }

  private leaseMs(): number {
    const n = Number(this.env.EDGEHARNESS_LEASE_MS);
    return Number.isFinite(n) && n > 0 ? n : DEFAULT_LEASE_MS;
  }

  private extendLease(st: LogState): void {
    if (!st.lease) return;
    st.lease.until = Date.now() + this.leaseMs();
    this.save();
    // The watchdog follows the lease; not awaited: storage ordering keeps it consistent.
    void this.rearm();
  }

  /**
   * The one alarm serves three clocks: the lease watchdog, an immediate wake when input waits and no brain
   * holds the lease, and the wall-clock limit, which must fire even when nothing runs.
   */
  private async rearm(): Promise<void> {
    const st = this.state;
    if (!st) return;
    const times: number[] = [];
    if (st.status !== 'terminated') {
      if (st.lease) times.push(st.lease.until);
      else if (st.inputSeq > st.consumedSeq) times.push(Date.now());
      if (st.wallDeadline !== null && !st.wallFired) times.push(st.wallDeadline);
    }
    if (times.length) await this.ctx.storage.setAlarm(Math.min(...times));
    else await this.ctx.storage.deleteAlarm();
  }

  /** max_wall_seconds ran out: a running turn is fenced off and stopped, whether or not a brain is alive. */
  private async wallClockReached(st: LogState): Promise<void> {
    st.wallFired = true;
    const stored: Stored[] = [];
    this.ctx.storage.transactionSync(() => {
      if (st.status === 'running') {
        st.epoch += 1;
        st.lease = null;
        // A grader cut off by the clock leaves no evaluation open on an idle session.
        const grading = openEvaluation(this.outcomeEvents());
        if (grading) {
          const end = outcomeEvaluationEnd(grading, 'failed', "Not graded: the session's max_wall_seconds ran out.", NO_USAGE);
          stored.push(this.insert(stamp(end, newId('sevt'), new Date().toISOString())));
        }
        this.endThreads(stored, "The session's max_wall_seconds ran out", { type: 'budget_reached' });
        stored.push(this.insert(stamp(statusIdle({ type: 'budget_reached' }, { limit: 'max_wall_seconds' }), newId('sevt'), new Date().toISOString())));
        this.applyStatus(st, 'idle');
      }
      st.consumedSeq = st.inputSeq;
      this.save();
    });
    await this.afterAppend(stored, true);
  }

  private applyStatus(st: LogState, status: SessionStatus): void {
    const now = Date.now();
    if (st.status === 'running' && st.runningSince !== null) {
      st.activeMs += now - st.runningSince;
      st.runningSince = null;
    }
    if (status === 'running') st.runningSince = now;
    st.status = status;
  }

  private runtimeOf(st: LogState): SessionRuntime {
    const now = Date.now();
    const active = st.activeMs + (st.runningSince !== null ? now - st.runningSince : 0);
    return {
      status: st.status,
      usage: structuredClone(st.usage),
      stats: {
        active_seconds: Math.round(active / 100) / 10,
        duration_seconds: Math.round((now - Date.parse(st.spec.createdAt)) / 100) / 10,
      },
      updated_at: new Date().toISOString(),
      outcome_evaluations: outcomeEvaluations(this.outcomeEvents(), st.status === 'running'),
    };
  }

  /** The events an outcome's state is folded from: few per outcome, so read whole when needed. */
  private outcomeEvents(): SessionEvent[] {
    const types = OUTCOME_EVENT_TYPES.map(() => '?').join(',');
    return this.sql.exec<Row>(`SELECT * FROM events WHERE type IN (${types}) ORDER BY seq`, ...OUTCOME_EVENT_TYPES).toArray().map((r) => this.decode(r));
  }

  /** After events land: the workspace's session index learns the new status/usage, then live readers see them. */
  private async afterAppend(stored: Stored[], pushRuntime: boolean): Promise<void> {
    const st = this.state;
    if (!st) return;
    const indexed = (type: string) => type.startsWith('session.status') || (OUTCOME_EVENT_TYPES as readonly string[]).includes(type);
    if (pushRuntime || stored.some((s) => indexed(s.event.type))) {
      const ws = workspaceStore(this.env, st.spec.workspaceId);
      try {
        await ws.applySessionRuntime(st.spec.sessionId, this.runtimeOf(st));
      } catch (err) {
        // The log stays the source of truth; the index catches up on the next change.
        console.error('session index update failed', err);
      }
    }
    for (const s of stored) this.broadcast(s.event);
    this.raiseWebhooks(st, stored);
    this.raiseTelemetry(st, stored);
  }

  /**
   * When a turn ends (the session idles or terminates), its spans go to the telemetry outbox, if any destination
   * covers the workspace: read and built after the append has answered, never awaited, never failing it.
   */
  private raiseTelemetry(st: LogState, stored: Stored[]): void {
    const ends = stored.filter((s) => TURN_ENDS.has(s.event.type));
    if (!ends.length) return;
    const { spec } = st;
    this.ctx.waitUntil(
      (async () => {
        const outbox = telemetryOutbox(this.env);
        const coverage = await outbox.covers(spec.workspaceId);
        if (!coverage) return;
        for (const end of ends) {
          const events = this.turnEndingAt(end.seq);
          const spans = turnSpans(events, {
            workspaceId: spec.workspaceId,
            sessionId: spec.sessionId,
            agentId: spec.agent.id,
            agentName: spec.agent.name,
            agentVersion: spec.agent.version,
            model: spec.agent.model.id,
            // The outbox removes content for each destination that takes metadata only, and cuts it to each bound.
            ...(coverage.content ? { contentMode: 'content' as const, maxContentBytes: coverage.maxContentBytes } : {}),
            // A sub-agent thread's model is its agent's, which its events do not repeat.
            ...(events.some((e) => e.session_thread_id) ? { threadModels: Object.fromEntries(this.threadList().map((t) => [t.id, t.agent.model.id])) } : {}),
          });
          await outbox.exportSpans({ workspaceId: spec.workspaceId, sessionId: spec.sessionId, spans });
        }
      })().catch((err: unknown) => console.error('telemetry export failed', err)),
    );
  }

  /** The events of the turn that the event at `endSeq` ends: those after the previous turn's end, through it. */
  private turnEndingAt(endSeq: number): SessionEvent[] {
    const prev = this.sql
      .exec<{ m: number | null }>(`SELECT MAX(seq) AS m FROM events WHERE type IN (${[...TURN_ENDS].map(() => '?').join(', ')}) AND seq < ?`, ...TURN_ENDS, endSeq)
      .one().m ?? 0;
    return this.sql.exec<Row>(`SELECT * FROM events WHERE seq > ? AND seq <= ? ORDER BY seq`, prev, endSeq).toArray().map((r) => this.decode(r));
  }

  /** Hands the webhook events these appends raise to the outbox: one RPC, never awaited, never failing the append. */
  private raiseWebhooks(st: LogState, stored: Stored[]): void {
    const raised = sessionWebhookEvents(stored.map((s) => s.event), st.spec.sessionId, st.spec.workspaceId);
    if (!raised.length) return;
    this.ctx.waitUntil(
      webhookOutbox(this.env)
        .enqueue(raised)
        .catch((err: unknown) => console.error('webhook enqueue failed', err)),
    );
  }

  private broadcast(ev: SessionEvent): void {
    if (this.sse.size) {
      const frame = sseFrame(ev.type, ev, ev.id);
      for (const sub of this.sse) if (visibleIn(ev, sub.view)) this.write(sub, frame);
    }
    const sockets = this.ctx.getWebSockets();
    if (sockets.length) {
      const json = JSON.stringify(ev);
      for (const ws of sockets) {
        const att = ws.deserializeAttachment() as { view?: EventView } | null;
        if (visibleIn(ev, att?.view ?? { kind: 'session' })) trySend(ws, json);
      }
    }
  }

  /** A stream's `thread` parameter: absent for the session's stream; the primary thread's id is its NULL column. */
  private viewOf(thread: string | null): EventView {
    if (thread === null || !this.state) return { kind: 'session' };
    return { kind: 'thread', thread: thread === primaryThreadId(this.state.spec.sessionId) ? null : thread };
  }

  private write(sub: SseSubscriber, bytes: Uint8Array): void {
    sub.writer.write(bytes).catch(() => {
      this.sse.delete(sub);
      this.stopPingIfIdle();
    });
  }

  private ensurePing(): void {
    if (this.pingTimer) return;
    const ping = encoder.encode('event: ping\ndata: {"type":"ping"}\n\n');
    this.pingTimer = setInterval(() => {
      for (const sub of this.sse) this.write(sub, ping);
      this.stopPingIfIdle();
    }, SSE_PING_MS);
  }

  private stopPingIfIdle(): void {
    if (this.sse.size === 0 && this.pingTimer) {
      clearInterval(this.pingTimer);
      this.pingTimer = null;
    }
  }

  private readAllAfter(afterSeq: number): SessionEvent[] {
    return this.sql.exec<Row>(`SELECT * FROM events WHERE seq > ? ORDER BY seq`, afterSeq).toArray().map((r) => this.decode(r));
  }

  private findEvent(id: string, types: string[]): boolean {
    const row = this.sql
      .exec<{ type: string }>(`SELECT type FROM events WHERE id = ?`, id)
      .toArray()[0];
    return row !== undefined && types.includes(row.type);
  }

  /** Whether a tool call already has a result, from the sandbox or from the client. */
  private answered(toolUseId: string): boolean {
    return this.sql
      .exec(`SELECT 1 FROM event_refs WHERE ref = ? AND type IN ('agent.tool_result', 'agent.mcp_tool_result', 'user.tool_result', 'user.custom_tool_result') LIMIT 1`, toolUseId)
      .toArray().length > 0;
  }

  private confirmed(toolUseId: string): boolean {
    return this.sql.exec(`SELECT 1 FROM event_refs WHERE ref = ? AND type = 'user.tool_confirmation' LIMIT 1`, toolUseId).toArray().length > 0;
  }

  /** Appends one event; a body over the row limit is split into chunk rows, never truncated. */
  private insert(event: SessionEvent): Stored {
    const json = JSON.stringify(event);
    const bytes = encoder.encode(json);
    const seq = this.nextSeq();
    const thread = event.session_thread_id ?? null;
    if (bytes.byteLength <= INLINE_LIMIT) {
      this.sql.exec(`INSERT INTO events (seq, id, type, body, chunks, size, thread) VALUES (?, ?, ?, ?, 0, ?, ?)`, seq, event.id, event.type, json, bytes.byteLength, thread);
    } else {
      let idx = 0;
      for (let off = 0; off < bytes.byteLength; off += INLINE_LIMIT, idx++) {
        this.sql.exec(`INSERT INTO event_chunks (seq, idx, data) VALUES (?, ?, ?)`, seq, idx, bytes.slice(off, off + INLINE_LIMIT).buffer);
      }
      this.sql.exec(`INSERT INTO events (seq, id, type, body, chunks, size, thread) VALUES (?, ?, ?, NULL, ?, ?, ?)`, seq, event.id, event.type, idx, bytes.byteLength, thread);
    }
    // Events that answer a tool call are indexed by the call they answer (lookups must not parse bodies).
    const ref =
      'tool_use_id' in event ? event.tool_use_id
      : 'custom_tool_use_id' in event ? event.custom_tool_use_id
      : 'mcp_tool_use_id' in event ? event.mcp_tool_use_id
      : undefined;
    if (ref !== undefined) this.sql.exec(`INSERT OR IGNORE INTO event_refs (ref, type, seq) VALUES (?, ?, ?)`, ref, event.type, seq);
    return { seq, event };
  }

  private nextSeq(): number {
    const row = this.sql.exec<{ m: number | null }>(`SELECT MAX(seq) AS m FROM events`).one();
    return (row.m ?? 0) + 1;
  }

  private decode(row: Row): SessionEvent {
    if (row.body !== null) return JSON.parse(row.body) as SessionEvent;
    const parts = this.sql
      .exec<{ data: ArrayBuffer }>(`SELECT data FROM event_chunks WHERE seq = ? ORDER BY idx`, row.seq)
      .toArray();
    const all = new Uint8Array(row.size);
    let off = 0;
    for (const p of parts) {
      all.set(new Uint8Array(p.data), off);
      off += p.data.byteLength;
    }
    return JSON.parse(decoder.decode(all)) as SessionEvent;
  }

  private requireState(): LogState {
    if (!this.state) throw new Error('session log is not initialised');
    return this.state;
  }

  private load(): LogState | null {
    const rows = new Map(this.sql.exec<{ k: string; v: string }>(`SELECT k, v FROM meta WHERE k IN ('spec', 'state')`).toArray().map((r) => [r.k, r.v]));
    const spec = rows.get('spec');
    const run = rows.get('state');
    if (spec === undefined || run === undefined) return null;
    return { ...(JSON.parse(run) as RunState), spec: JSON.parse(spec) as SessionSpec };
  }

  /** Writes the run state; the spec (with the agent, the larger part) is written only when it changes. */
  private save(): void {
    if (!this.state) return;
    const { spec: _spec, ...run } = this.state;
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('state', ?)`, JSON.stringify(run));
  }

  private saveSpec(): void {
    if (!this.state) return;
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('spec', ?)`, JSON.stringify(this.state.spec));
  }
}

const NO_USAGE = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

function wallDeadline(spec: SessionSpec): number | null {
  return spec.limits.max_wall_seconds ? Date.parse(spec.createdAt) + spec.limits.max_wall_seconds * 1000 : null;
}

interface Row extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  type: string;
  body: string | null;
  chunks: number;
  size: number;
}

/**
 * An event as stored: the official field order, id and type first, processed_at last. The cast is checked by the
 * compiler elsewhere: every NewEvent is a SessionEvent less its stamp, and so is accepted input (contract/events.ts).
 */
function stamp(ev: NewEvent | StoredInput, id: string, processedAt: string): SessionEvent {
  const { id: _ignored, type, ...rest } = ev as NewEvent;
  return { id, type, ...rest, processed_at: processedAt } as SessionEvent;
}

function refuse(type: Refusal['error']['type'], message: string): Refusal {
  return { ok: false, error: { type, message } };
}

function addUsage(u: SessionUsage, d: NonNullable<EmitOptions['usage']>): void {
  u.input_tokens += d.input_tokens ?? 0;
  u.output_tokens += d.output_tokens ?? 0;
  u.cache_read_input_tokens += d.cache_read_input_tokens ?? 0;
  u.cache_creation.ephemeral_5m_input_tokens += d.cache_creation_input_tokens ?? 0;
}

function sseFrame(event: string, data: unknown, id: string | null): Uint8Array {
  return encoder.encode(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function trySend(ws: WebSocket, data: string): void {
  try {
    ws.send(data);
  } catch {
    /* the socket closed; the hibernation API forgets it */
  }
}
