// TelemetryOutbox: the single Durable Object that holds the organization's telemetry destinations, their workspace
// lists, and the queue of spans waiting for each. A session's spans arrive in one RPC (`exportSpans`, cheap, never
// throws) and become one queued row per enabled destination that covers the session's workspace; the alarm posts
// them as OTLP/HTTP JSON in batches, retries with backoff, and disables a destination after a redirect or after
// failing for longer than the threshold. Rows and the alarm are durable. See docs/telemetry.md.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { migrate, type Migration } from '../resources/shared/migrations.ts';
import { decodeCursor, encodeCursor, type Page } from '../contract/common.ts';
import { fail, ok, type Result } from '../contract/result.ts';
import type { TraceBatch, TraceSpan } from '../contract/trace-span.ts';
import {
  MAX_LIST_WORKSPACES,
  MAX_LIST_WORKSPACES_FOR_UPDATE,
  MAX_TELEMETRY_DESTINATIONS,
  TEST_SPAN_NAME,
  headersProblem,
  hostAndPort,
  invalidAddress,
  MAX_CONTENT_BYTES,
  telemetryUrlProblem,
  tracesUrl,
  urlOrigin,
  type DisabledReason,
  type TelemetryDestination,
  type TelemetryDestinationCreateParams,
  type TelemetryDestinationUpdateParams,
  type TelemetryDestinationWorkspace,
  type TelemetryTestResponse,
  type TelemetryCoverage,
  type TracesParams,
  type WorkspacesParams,
} from '../contract/telemetry.ts';
import { otlpTracesBody, shapeSpan, type ContentPolicy } from './otlp-traces.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    id: 'telemetry/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS destinations (
          id TEXT PRIMARY KEY,
          seq INTEGER NOT NULL,
          endpoint_url TEXT NOT NULL,
          display_name TEXT,
          headers TEXT NOT NULL,
          traces_enabled INTEGER NOT NULL,
          traces_endpoint_url TEXT,
          content_mode TEXT NOT NULL,
          max_content_bytes INTEGER,
          workspaces_type TEXT NOT NULL,
          state TEXT NOT NULL,
          disabled_reason TEXT,
          last_error TEXT,
          last_error_at TEXT,
          last_success_at TEXT,
          failing_since INTEGER,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_at INTEGER NOT NULL DEFAULT 0,
          last_test_at INTEGER,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS destination_workspaces (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          destination_id TEXT NOT NULL,
          workspace_id TEXT NOT NULL,
          created_at TEXT NOT NULL,
          UNIQUE (destination_id, workspace_id)
        );
        CREATE TABLE IF NOT EXISTS spans (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          destination_id TEXT NOT NULL,
          span TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS spans_by_destination ON spans (destination_id, seq);
      `);
    },
  },
];

type DestinationRow = {
  id: string;
  seq: number;
  endpoint_url: string;
  display_name: string | null;
  /** JSON object, name → value: write-only, never answered or logged. */
  headers: string;
  traces_enabled: number;
  traces_endpoint_url: string | null;
  content_mode: string;
  max_content_bytes: number | null;
  workspaces_type: string;
  state: string;
  disabled_reason: string | null;
  last_error: string | null;
  last_error_at: string | null;
  last_success_at: string | null;
  /** Unix ms of the first failure since the last success; null while deliveries succeed. */
  failing_since: number | null;
  /** Failed deliveries in a row: the backoff's exponent. */
  attempts: number;
  /** Unix ms before which queued spans wait (the backoff). */
  next_at: number;
  last_test_at: number | null;
  created_at: string;
  updated_at: string;
};
type WorkspaceRow = { seq: number; destination_id: string; workspace_id: string; created_at: string };
type SpanRow = { seq: number; span: string };

/** Spans per OTLP request. */
const BATCH_SPANS = 512;
/** Requests one destination gets per alarm; what is left waits for the next alarm, set at once. */
const BATCHES_PER_ALARM = 8;
/** Spans queued per destination; past it the oldest are dropped (docs/telemetry.md). */
export const MAX_QUEUED_SPANS = 10_000;
const SEND_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 300_000;
/** The least time between two `test` calls for one destination (the official 10 s). */
const TEST_INTERVAL_MS = 10_000;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomId(prefix: string): string {
  let out = '';
  for (const b of crypto.getRandomValues(new Uint8Array(24))) out += ALPHABET[b % 62];
  return `${prefix}_${out}`;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const notFound = (id: string) => fail('not_found_error', `telemetry destination ${id} not found`);

/** What `test` answers: the result, or how many seconds to wait before testing this destination again. */
export type TestOutcome = { tested: TelemetryTestResponse } | { retryAfterSeconds: number };

export class TelemetryOutbox extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Destinations with a request on its way: a second alarm meanwhile leaves them alone. */
  private readonly sending = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, MIGRATIONS);
  }

  private allowPrivate(): boolean {
    const v = this.env.EDGEHARNESS_TELEMETRY_ALLOW_PRIVATE;
    return v === '1' || v === 'true';
  }

  private setting(value: string | undefined, dflt: number): number {
    const n = Number(value);
    return value !== undefined && Number.isFinite(n) && n >= 0 ? n : dflt;
  }

  /** The wait after `attempts` failures in a row: base (default 1 s) doubling, at most 5 minutes. */
  private backoffMs(attempts: number): number {
    const base = this.setting(this.env.EDGEHARNESS_TELEMETRY_RETRY_BASE_MS, 1000);
    return Math.min(base * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
  }

  private disableAfterMs(): number {
    return this.setting(this.env.EDGEHARNESS_TELEMETRY_DISABLE_AFTER_MS, 3_600_000);
  }

  private row(id: string): DestinationRow | undefined {
    return this.sql.exec<DestinationRow>(`SELECT * FROM destinations WHERE id = ?`, id).toArray()[0];
  }

  private listOf(id: string): Set<string> {
    return new Set(this.sql.exec<{ workspace_id: string }>(`SELECT workspace_id FROM destination_workspaces WHERE destination_id = ?`, id).toArray().map((r) => r.workspace_id));
  }

  private view(r: DestinationRow): TelemetryDestination {
    return {
      id: r.id,
      type: 'telemetry_destination',
      created_at: r.created_at,
      updated_at: r.updated_at,
      display_name: r.display_name,
      endpoint_url: r.endpoint_url,
      header_names: Object.keys(JSON.parse(r.headers) as Record<string, string>),
      state: r.state === 'enabled' ? { type: 'enabled' } : { type: 'disabled', reason: { type: (r.disabled_reason ?? 'caller') as DisabledReason } },
      traces: {
        enabled: r.traces_enabled === 1,
        endpoint_url: r.traces_endpoint_url,
        content_mode: r.content_mode as 'metadata_only' | 'content',
        max_content_bytes: r.max_content_bytes,
      },
      workspaces: { type: r.workspaces_type as 'all' | 'include' | 'exclude' },
      delivery_health: { last_error: r.last_error, last_error_at: r.last_error_at, last_success_at: r.last_success_at },
    };
  }

  /** Applies traces params to a row: omitted settings keep, `null` settings take their create default. */
  private applyTraces(r: DestinationRow, t: TracesParams | null): void {
    if (t === null) {
      Object.assign(r, { traces_enabled: 1, traces_endpoint_url: null, content_mode: 'metadata_only', max_content_bytes: null });
      return;
    }
    if (t.enabled !== undefined) r.traces_enabled = t.enabled ? 1 : 0;
    if (t.content_mode !== undefined) r.content_mode = t.content_mode ?? 'metadata_only';
    if (t.endpoint_url !== undefined) r.traces_endpoint_url = t.endpoint_url;
    if (t.max_content_bytes !== undefined) r.max_content_bytes = t.max_content_bytes;
  }

  /** The endpoint URLs' problem, naming the field: each URL's rules, and the traces URL's scheme, host and port. */
  private urlsProblem(r: DestinationRow): string | null {
    const allow = this.allowPrivate();
    const p = telemetryUrlProblem(r.endpoint_url, allow);
    if (p) return `endpoint_url: ${p}`;
    if (r.traces_endpoint_url === null) return null;
    // Any path is allowed on the traces URL; the rest of the rules are the same.
    const t = telemetryUrlProblem(r.traces_endpoint_url, allow);
    if (t) return `traces.endpoint_url: ${t}`;
    if (urlOrigin(r.traces_endpoint_url) !== urlOrigin(r.endpoint_url))
      return 'traces.endpoint_url: must have the same scheme, host and port as endpoint_url (when endpoint_url changes host or port, send a new traces.endpoint_url or null)';
    return null;
  }

  /** Why `ids` can't become the destination's list, or null: an archived workspace not on it yet, or too many. */
  private listProblem(id: string | null, ids: readonly string[], archived: ReadonlySet<string>): string | null {
    const current = id ? this.listOf(id) : new Set<string>();
    const refused = ids.find((w) => archived.has(w) && !current.has(w));
    if (refused) return `workspaces.workspace_ids: workspace ${refused} is archived and can't be added to a list`;
    if (new Set(ids).size > MAX_LIST_WORKSPACES) return `workspaces.workspace_ids: a list holds at most ${MAX_LIST_WORKSPACES} workspaces`;
    return null;
  }

  /** Replaces a destination's list with `ids` (checked by listProblem): entries that stay keep their `created_at`. Answers whether it changed. */
  private replaceList(id: string, ids: readonly string[], now: string): boolean {
    const current = this.listOf(id);
    const wanted = new Set(ids);
    let changed = false;
    for (const w of current)
      if (!wanted.has(w)) {
        this.sql.exec(`DELETE FROM destination_workspaces WHERE destination_id = ? AND workspace_id = ?`, id, w);
        changed = true;
      }
    for (const w of wanted)
      if (!current.has(w)) {
        this.sql.exec(`INSERT INTO destination_workspaces (destination_id, workspace_id, created_at) VALUES (?, ?, ?)`, id, w, now);
        changed = true;
      }
    return changed;
  }

  private write(r: DestinationRow): void {
    this.sql.exec(
      `UPDATE destinations SET endpoint_url = ?, display_name = ?, headers = ?, traces_enabled = ?, traces_endpoint_url = ?, content_mode = ?,
         max_content_bytes = ?, workspaces_type = ?, state = ?, disabled_reason = ?, failing_since = ?, attempts = ?, next_at = ?, updated_at = ?
       WHERE id = ?`,
      r.endpoint_url, r.display_name, r.headers, r.traces_enabled, r.traces_endpoint_url, r.content_mode, r.max_content_bytes,
      r.workspaces_type, r.state, r.disabled_reason, r.failing_since, r.attempts, r.next_at, r.updated_at, r.id,
    );
  }

  /**
   * Registers a destination, enabled. `archived` names the workspaces among `workspaces.workspace_ids` that are
   * archived (the route has already refused ids that name no workspace).
   */
  async createDestination(p: TelemetryDestinationCreateParams, archived: string[] = []): Promise<Result<TelemetryDestination>> {
    const count = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM destinations`).one().n;
    if (count >= MAX_TELEMETRY_DESTINATIONS)
      return fail('invalid_request_error', `an organization can have at most ${MAX_TELEMETRY_DESTINATIONS} telemetry destinations, including disabled ones; delete one first`);
    const headers = p.headers ?? {};
    const hp = headersProblem(headers);
    if (hp) return fail('invalid_request_error', hp);
    const now = new Date().toISOString();
    const r: DestinationRow = {
      id: randomId('tdst'),
      seq: (this.sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM destinations`).one().s ?? 0) + 1,
      endpoint_url: p.endpoint_url,
      display_name: p.display_name ?? null,
      headers: JSON.stringify(headers),
      traces_enabled: 1,
      traces_endpoint_url: null,
      content_mode: 'metadata_only',
      max_content_bytes: null,
      workspaces_type: p.workspaces.type,
      state: 'enabled',
      disabled_reason: null,
      last_error: null,
      last_error_at: null,
      last_success_at: null,
      failing_since: null,
      attempts: 0,
      next_at: 0,
      last_test_at: null,
      created_at: now,
      updated_at: now,
    };
    if (p.traces) this.applyTraces(r, p.traces);
    const up = this.urlsProblem(r);
    if (up) return fail('invalid_request_error', up);
    const ids = p.workspaces.type === 'all' ? [] : (p.workspaces.workspace_ids ?? []);
    const lp = this.listProblem(null, ids, new Set(archived));
    if (lp) return fail('invalid_request_error', lp);
    return this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO destinations (id, seq, endpoint_url, display_name, headers, traces_enabled, traces_endpoint_url, content_mode, max_content_bytes,
           workspaces_type, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'enabled', ?, ?)`,
        r.id, r.seq, r.endpoint_url, r.display_name, r.headers, r.traces_enabled, r.traces_endpoint_url, r.content_mode, r.max_content_bytes,
        r.workspaces_type, now, now,
      );
      this.replaceList(r.id, ids, now);
      return ok(this.view(r));
    });
  }

  async getDestination(id: string): Promise<Result<TelemetryDestination>> {
    const r = this.row(id);
    return r ? ok(this.view(r)) : notFound(id);
  }

  /**
   * Changes a destination as the official update documents: omitted fields keep; a change of the endpoint's
   * hostname or port first removes every header; `state: enabled` clears the disable, `disabled` on a disabled
   * destination keeps its reason. `updated_at` moves only when the configuration or state changed, or a header
   * value was set.
   */
  async updateDestination(id: string, p: TelemetryDestinationUpdateParams, archived: string[] = []): Promise<Result<TelemetryDestination>> {
    const before = this.row(id);
    if (!before) return notFound(id);
    const r: DestinationRow = { ...before };
    if (p.display_name !== undefined) r.display_name = p.display_name;
    let hostChanged = false;
    if (p.endpoint_url !== undefined) {
      const problem = telemetryUrlProblem(p.endpoint_url, this.allowPrivate());
      if (problem) return fail('invalid_request_error', `endpoint_url: ${problem}`);
      hostChanged = hostAndPort(p.endpoint_url) !== hostAndPort(before.endpoint_url);
      r.endpoint_url = p.endpoint_url;
    }
    if (p.traces !== undefined) this.applyTraces(r, p.traces);
    const up = this.urlsProblem(r);
    if (up) return fail('invalid_request_error', up);

    const headers: Record<string, string> = hostChanged ? {} : (JSON.parse(before.headers) as Record<string, string>);
    let setsValue = false;
    if (p.headers) {
      const sets: Record<string, string> = {};
      for (const [name, value] of Object.entries(p.headers)) {
        for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
        if (value !== null) sets[name] = value;
      }
      setsValue = Object.keys(sets).length > 0;
      if (setsValue && p.endpoint_url === undefined)
        return fail('invalid_request_error', 'headers: a request that sets a header value must also include endpoint_url (the current URL is accepted)');
      const hp = headersProblem(sets, Object.keys(headers));
      if (hp) return fail('invalid_request_error', hp);
      Object.assign(headers, sets);
    }
    r.headers = JSON.stringify(headers);

    if (p.workspaces) {
      const size = this.listOf(id).size;
      const replaces = p.workspaces.type !== 'all' && p.workspaces.workspace_ids !== undefined;
      if ((p.workspaces.type !== before.workspaces_type || replaces) && size > MAX_LIST_WORKSPACES_FOR_UPDATE)
        return fail(
          'invalid_request_error',
          `workspaces: the list has ${size} workspaces; remove workspaces one at a time until ${MAX_LIST_WORKSPACES_FOR_UPDATE} or fewer remain, then send the update again`,
        );
      if (replaces) {
        const lp = this.listProblem(id, p.workspaces.type === 'all' ? [] : (p.workspaces.workspace_ids ?? []), new Set(archived));
        if (lp) return fail('invalid_request_error', lp);
      }
      r.workspaces_type = p.workspaces.type;
    }

    let disables = false;
    if (p.state?.type === 'enabled' && before.state !== 'enabled') {
      // A fresh start: the backoff and the failure clock begin again (delivery_health stays).
      Object.assign(r, { state: 'enabled', disabled_reason: null, failing_since: null, attempts: 0, next_at: 0 });
    } else if (p.state?.type === 'disabled' && before.state === 'enabled') {
      Object.assign(r, { state: 'disabled', disabled_reason: 'caller' });
      disables = true;
    }

    const now = new Date().toISOString();
    return this.ctx.storage.transactionSync(() => {
      let listChanged = false;
      if (p.workspaces) {
        const ws: WorkspacesParams = p.workspaces;
        if (ws.type === 'all' || (ws.workspace_ids === undefined && ws.type !== before.workspaces_type)) {
          listChanged = this.listOf(id).size > 0;
          this.sql.exec(`DELETE FROM destination_workspaces WHERE destination_id = ?`, id);
        } else if (ws.workspace_ids !== undefined) {
          listChanged = this.replaceList(id, ws.workspace_ids, now);
        }
      }
      const configChanged = CONFIG.some((k) => r[k] !== before[k]);
      if (configChanged || listChanged || setsValue) r.updated_at = now;
      this.write(r);
      // Spans of a destination that no longer receives traces are never delivered.
      if (disables || r.traces_enabled === 0) this.sql.exec(`DELETE FROM spans WHERE destination_id = ?`, id);
      return ok(this.view(r));
    });
  }

  async listDestinations(q: { limit: number; page?: string | undefined; workspaceIds?: string[] | undefined }): Promise<Result<Page<TelemetryDestination>>> {
    let after = Number.MAX_SAFE_INTEGER;
    if (q.page !== undefined) {
      const c = decodeCursor(q.page);
      if (!c || typeof c.seq !== 'number') return fail('invalid_request_error', 'page: not a cursor returned by this API');
      after = c.seq;
    }
    let rows = this.sql.exec<DestinationRow>(`SELECT * FROM destinations WHERE seq < ? ORDER BY seq DESC`, after).toArray();
    if (q.workspaceIds) {
      const ids = q.workspaceIds;
      rows = rows.filter((r) => ids.some((w) => this.coversRow(r, w)));
    }
    const page = rows.slice(0, q.limit);
    return ok({ data: page.map((r) => this.view(r)), next_page: rows.length > page.length ? encodeCursor({ seq: page.at(-1)!.seq }) : null });
  }

  /** Deletes a destination, its list and its queued spans. */
  async deleteDestination(id: string): Promise<Result<{ id: string; type: 'telemetry_destination_deleted' }>> {
    if (!this.row(id)) return notFound(id);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM spans WHERE destination_id = ?`, id);
      this.sql.exec(`DELETE FROM destination_workspaces WHERE destination_id = ?`, id);
      this.sql.exec(`DELETE FROM destinations WHERE id = ?`, id);
    });
    return ok({ id, type: 'telemetry_destination_deleted' });
  }

  async listWorkspaces(id: string, q: { limit: number; page?: string | undefined }): Promise<Result<Page<TelemetryDestinationWorkspace>>> {
    if (!this.row(id)) return notFound(id);
    let after = Number.MAX_SAFE_INTEGER;
    if (q.page !== undefined) {
      const c = decodeCursor(q.page);
      if (!c || typeof c.seq !== 'number') return fail('invalid_request_error', 'page: not a cursor returned by this API');
      after = c.seq;
    }
    const rows = this.sql
      .exec<WorkspaceRow>(`SELECT * FROM destination_workspaces WHERE destination_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, id, after, q.limit + 1)
      .toArray();
    const page = rows.slice(0, q.limit);
    return ok({ data: page.map(workspaceView), next_page: rows.length > page.length ? encodeCursor({ seq: page.at(-1)!.seq }) : null });
  }

  /** Adds one workspace to the list; one already there is answered as it is. `archived`: the workspace is archived. */
  async addWorkspace(id: string, workspaceId: string, archived: boolean): Promise<Result<TelemetryDestinationWorkspace>> {
    const r = this.row(id);
    if (!r) return notFound(id);
    if (r.workspaces_type === 'all')
      return fail('invalid_request_error', `telemetry destination ${id} covers all workspaces and has no list; update its workspaces to change what it covers`);
    const existing = this.sql.exec<WorkspaceRow>(`SELECT * FROM destination_workspaces WHERE destination_id = ? AND workspace_id = ?`, id, workspaceId).toArray()[0];
    if (existing) return ok(workspaceView(existing));
    if (archived) return fail('invalid_request_error', `workspace_id: workspace ${workspaceId} is archived and can't be added to a list`);
    if (this.listOf(id).size >= MAX_LIST_WORKSPACES) return fail('invalid_request_error', `a list holds at most ${MAX_LIST_WORKSPACES} workspaces`);
    this.sql.exec(`INSERT INTO destination_workspaces (destination_id, workspace_id, created_at) VALUES (?, ?, ?)`, id, workspaceId, new Date().toISOString());
    const added = this.sql.exec<WorkspaceRow>(`SELECT * FROM destination_workspaces WHERE destination_id = ? AND workspace_id = ?`, id, workspaceId).one();
    return ok(workspaceView(added));
  }

  async removeWorkspace(id: string, workspaceId: string): Promise<
    Result<{ type: 'telemetry_destination_workspace_deleted'; telemetry_destination_id: string; workspace_id: string }>
  > {
    const r = this.row(id);
    if (!r) return notFound(id);
    if (r.workspaces_type === 'all') return fail('invalid_request_error', `telemetry destination ${id} covers all workspaces and has no list`);
    const gone = this.sql.exec(`DELETE FROM destination_workspaces WHERE destination_id = ? AND workspace_id = ?`, id, workspaceId).rowsWritten;
    if (!gone) return fail('not_found_error', `workspace ${workspaceId} is not on the list of telemetry destination ${id}`);
    return ok({ type: 'telemetry_destination_workspace_deleted', telemetry_destination_id: id, workspace_id: workspaceId });
  }

  /**
   * Sends one span named `anthropic.test` with the destination's headers, once, without retries, and answers how it
   * went. Neither the configuration, the state nor `delivery_health` changes. Sooner than 10 s after the previous
   * test of the same destination, the answer is how long to wait instead.
   */
  async testDestination(id: string): Promise<Result<TestOutcome>> {
    const r = this.row(id);
    if (!r) return notFound(id);
    const now = Date.now();
    if (r.last_test_at !== null && now - r.last_test_at < TEST_INTERVAL_MS)
      return ok({ retryAfterSeconds: Math.ceil((TEST_INTERVAL_MS - (now - r.last_test_at)) / 1000) });
    this.sql.exec(`UPDATE destinations SET last_test_at = ? WHERE id = ?`, now, id);
    const span: TraceSpan = {
      traceId: randomHex(16),
      spanId: randomHex(8),
      name: TEST_SPAN_NAME,
      kind: 'internal',
      startMs: now,
      endMs: now,
      status: { code: 'ok' },
      attributes: {},
      events: [],
    };
    const error = await this.post(r, this.body(r, [span]));
    return ok({ tested: { type: 'telemetry_destination_test', result: error === null ? { type: 'success' } : { type: 'failure', error } } });
  }

  /** Whether any enabled destination with traces on covers `workspaceId`: a caller with nothing to send skips the work. */
  async covers(workspaceId: string): Promise<TelemetryCoverage | null> {
    const targets = this.receivers(workspaceId);
    if (!targets.length) return null;
    const content = targets.filter((t) => t.content_mode === 'content');
    return {
      content: content.length > 0,
      maxContentBytes: Math.max(0, ...content.map((t) => t.max_content_bytes ?? MAX_CONTENT_BYTES)),
    };
  }

  /**
   * Queues `batch.spans` once for each enabled destination with traces on that covers `batch.workspaceId`, and
   * sets the alarm. Cheap, and never throws: telemetry must not fail or slow a session.
   */
  async exportSpans(batch: TraceBatch): Promise<void> {
    try {
      if (!batch.spans.length) return;
      const targets = this.receivers(batch.workspaceId);
      if (!targets.length) return;
      this.ctx.storage.transactionSync(() => {
        for (const t of targets) {
          // Stored as this destination may see them: a metadata_only queue never holds content.
          const policy = policyOf(t);
          for (const s of batch.spans) this.sql.exec(`INSERT INTO spans (destination_id, span) VALUES (?, ?)`, t.id, JSON.stringify(shapeSpan(s, policy)));
          // Past the cap the oldest go: a dead collector must not grow the queue without bound.
          this.sql.exec(
            `DELETE FROM spans WHERE destination_id = ? AND seq <= (SELECT seq FROM spans WHERE destination_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
            t.id, t.id, MAX_QUEUED_SPANS,
          );
        }
      });
      const now = Date.now();
      const due = Math.max(now, Math.min(...targets.map((t) => t.next_at)));
      const current = await this.ctx.storage.getAlarm();
      if (current === null || current > due) await this.ctx.storage.setAlarm(due);
    } catch (err) {
      console.error(`telemetry: spans of session ${batch.sessionId} not queued:`, (err as Error).message);
    }
  }

  /** Test and operator view: how many spans wait for each destination. */
  async queued(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.sql.exec<{ destination_id: string; n: number }>(`SELECT destination_id, COUNT(*) AS n FROM spans GROUP BY destination_id`))
      out[r.destination_id] = r.n;
    return out;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.sql
      .exec<DestinationRow>(
        `SELECT * FROM destinations d WHERE state = 'enabled' AND next_at <= ? AND EXISTS (SELECT 1 FROM spans s WHERE s.destination_id = d.id)`,
        now,
      )
      .toArray()
      .filter((d) => !this.sending.has(d.id));
    // A safety net while the requests are out: should this object stop mid-send, the alarm fires again.
    if (due.length) await this.ctx.storage.setAlarm(now + SEND_TIMEOUT_MS + 5_000);
    await Promise.all(due.map((d) => this.deliver(d.id)));
    await this.rearm();
  }

  /**
   * The alarm for the earliest destination with spans due. One with a request still out is left to the alarm that
   * sent it (it rearms when the request ends): waking for it now would only spin.
   */
  private async rearm(): Promise<void> {
    const waiting = this.sql
      .exec<{ id: string; next_at: number }>(
        `SELECT id, next_at FROM destinations d WHERE state = 'enabled' AND EXISTS (SELECT 1 FROM spans s WHERE s.destination_id = d.id)`,
      )
      .toArray();
    const idle = waiting.filter((d) => !this.sending.has(d.id));
    const now = Date.now();
    if (idle.length) await this.ctx.storage.setAlarm(Math.max(now, Math.min(...idle.map((d) => d.next_at))));
    else if (waiting.length) await this.ctx.storage.setAlarm(now + SEND_TIMEOUT_MS + 5_000);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Posts one destination's queue, a batch at a time, until it is empty, a batch fails, or this alarm's share is sent. */
  private async deliver(id: string): Promise<void> {
    this.sending.add(id);
    try {
      for (let i = 0; i < BATCHES_PER_ALARM; i++) {
        const d = this.row(id);
        if (!d || d.state !== 'enabled' || d.traces_enabled !== 1) return;
        const rows = this.sql.exec<SpanRow>(`SELECT seq, span FROM spans WHERE destination_id = ? ORDER BY seq LIMIT ?`, id, BATCH_SPANS).toArray();
        if (!rows.length) return;
        let body: Uint8Array;
        try {
          body = this.body(d, rows.map((r) => JSON.parse(r.span) as TraceSpan));
        } catch (err) {
          // A batch that can't be serialized would block the queue for good: it goes, and the log says so.
          console.error(`telemetry: ${rows.length} spans for ${id} dropped, not serializable:`, (err as Error).message);
          this.sql.exec(`DELETE FROM spans WHERE destination_id = ? AND seq <= ?`, id, rows.at(-1)!.seq);
          continue;
        }
        const error = await this.post(d, body);
        if (!this.row(id)) return; // deleted while the request was out
        if (error === null) this.succeeded(id, rows.at(-1)!.seq);
        else return this.failed(id, error);
      }
    } finally {
      this.sending.delete(id);
    }
  }

  private succeeded(id: string, lastSeq: number): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM spans WHERE destination_id = ? AND seq <= ?`, id, lastSeq);
      this.sql.exec(`UPDATE destinations SET last_success_at = ?, failing_since = NULL, attempts = 0, next_at = 0 WHERE id = ?`, new Date().toISOString(), id);
    });
  }

  /**
   * Records a failed delivery and decides what follows: a redirect disables the destination at once; failures with
   * no success in between for longer than the threshold disable it (`invalid_address` when the last one was);
   * otherwise the spans wait out the backoff. A disabled destination's queue is dropped.
   */
  private failed(id: string, error: string): void {
    const d = this.row(id)!;
    const now = Date.now();
    const at = new Date(now).toISOString();
    const failingSince = d.failing_since ?? now;
    const attempts = d.attempts + 1;
    let reason: DisabledReason | null = null;
    if (error.startsWith('redirect')) reason = 'redirect';
    else if (now - failingSince >= this.disableAfterMs()) reason = error === 'invalid address' ? 'invalid_address' : 'sustained_failure';
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `UPDATE destinations SET last_error = ?, last_error_at = ?, failing_since = ?, attempts = ?, next_at = ? WHERE id = ?`,
        error, at, failingSince, attempts, now + this.backoffMs(attempts), id,
      );
      if (reason && d.state === 'enabled') {
        this.sql.exec(`UPDATE destinations SET state = 'disabled', disabled_reason = ?, updated_at = ? WHERE id = ?`, reason, at, id);
        this.sql.exec(`DELETE FROM spans WHERE destination_id = ?`, id);
      }
    });
  }

  /**
   * One OTLP/HTTP request to the destination: null when it answered 2xx, else the official wording of the failure.
   * The wording never carries a response body, a header value or an address.
   */
  private body(d: DestinationRow, spans: TraceSpan[]): Uint8Array {
    return otlpTracesBody(spans, policyOf(d));
  }

  private async post(d: DestinationRow, body: Uint8Array): Promise<string | null> {
    const url = tracesUrl(d.endpoint_url, d.traces_endpoint_url);
    if (invalidAddress(url, this.allowPrivate())) return 'invalid address';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...(JSON.parse(d.headers) as Record<string, string>), 'content-type': 'application/json' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return null;
      if (res.status >= 300 && res.status < 400) return `redirect (status ${res.status})`;
      return `HTTP error (status ${res.status})`;
    } catch (err) {
      const name = (err as Error | undefined)?.name;
      return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'connection failure';
    }
  }

  /** The enabled destinations with traces on that cover `workspaceId`. */
  private receivers(workspaceId: string): DestinationRow[] {
    return this.sql
      .exec<DestinationRow>(`SELECT * FROM destinations WHERE state = 'enabled' AND traces_enabled = 1`)
      .toArray()
      .filter((r) => this.coversRow(r, workspaceId));
  }

  /** `all` covers every workspace; `include` those on its list; `exclude` all but those on its list. */
  private coversRow(r: DestinationRow, workspaceId: string): boolean {
    if (r.workspaces_type === 'all') return true;
    const listed =
      this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM destination_workspaces WHERE destination_id = ? AND workspace_id = ?`, r.id, workspaceId).one().n > 0;
    return r.workspaces_type === 'include' ? listed : !listed;
  }
}

/** What a destination's spans may carry of content. */
function policyOf(d: DestinationRow): ContentPolicy {
  return { mode: d.content_mode === 'content' ? 'content' : 'metadata_only', maxBytes: d.max_content_bytes };
}

/** The columns whose change is a change of configuration or state (`updated_at` moves). */
const CONFIG: readonly (keyof DestinationRow)[] = [
  'endpoint_url', 'display_name', 'headers', 'traces_enabled', 'traces_endpoint_url', 'content_mode', 'max_content_bytes', 'workspaces_type', 'state',
  'disabled_reason',
];

function workspaceView(w: WorkspaceRow): TelemetryDestinationWorkspace {
  return { type: 'telemetry_destination_workspace', telemetry_destination_id: w.destination_id, workspace_id: w.workspace_id, created_at: w.created_at };
}
