// WebhookOutbox: the single Durable Object that holds the organization's webhook endpoints and the queue of
// deliveries to them. Events are enqueued in one RPC (never awaited by a session on its way); each becomes one row
// per subscribed, enabled endpoint, and the alarm sends the rows, signed with Standard Webhooks, until the endpoint
// answers 2xx or the last attempt fails and the endpoint is disabled. The rows and the alarm are in durable storage,
// so a restart loses no delivery (at least once: a delivery cut off mid-send is sent again). See docs/webhooks.md.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { migrate, type Migration } from '../resources/shared/migrations.ts';
import { fail, ok, type Result } from '../contract/result.ts';
import {
  MAX_WEBHOOK_ENDPOINTS,
  webhookUrlProblem,
  type NewWebhookEndpoint,
  type WebhookCreateParams,
  type WebhookEndpoint,
  type WebhookEvent,
  type WebhookEventData,
  type WebhookEventType,
  type WebhookUpdateParams,
} from '../contract/webhook.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    id: 'webhooks/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS endpoints (
          id TEXT PRIMARY KEY,
          seq INTEGER NOT NULL,
          url TEXT NOT NULL,
          name TEXT NOT NULL,
          description TEXT NOT NULL,
          enabled_events TEXT NOT NULL,
          state TEXT NOT NULL,
          disabled_reason TEXT NOT NULL,
          secret TEXT NOT NULL,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS deliveries (
          id TEXT PRIMARY KEY,
          endpoint_id TEXT NOT NULL,
          event_id TEXT NOT NULL,
          payload TEXT NOT NULL,
          attempts INTEGER NOT NULL,
          next_at INTEGER NOT NULL,
          last_error TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at);
      `);
    },
  },
];

type EndpointRow = {
  id: string;
  seq: number;
  url: string;
  name: string;
  description: string;
  enabled_events: string;
  state: string;
  disabled_reason: string;
  secret: string;
  created_at: string;
  updated_at: string;
};
type DeliveryRow = { id: string; endpoint_id: string; event_id: string; payload: string; attempts: number; next_at: number; last_error: string };

/** Deliveries sent per alarm; the rest wait for the next one, set at once. */
const BATCH = 32;
const SEND_TIMEOUT_MS = 15_000;
/** How long past a send's timeout its claim lasts. */
const CLAIM_SLACK_MS = 5_000;
const MAX_BACKOFF_MS = 6 * 3600_000;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomId(prefix: string): string {
  let out = '';
  for (const b of crypto.getRandomValues(new Uint8Array(24))) out += ALPHABET[b % 62];
  return `${prefix}_${out}`;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
function newSecret(): string {
  return `whsec_${base64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed by the secret's decoded bytes. */
export async function signStandardWebhook(secret: string, msgId: string, timestamp: number, body: string): Promise<string> {
  const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (ch) => ch.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${msgId}.${timestamp}.${body}`));
  return `v1,${base64(new Uint8Array(mac))}`;
}

export class WebhookOutbox extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, MIGRATIONS);
  }

  private allowPrivate(): boolean {
    const v = this.env.EDGEHARNESS_WEBHOOK_ALLOW_PRIVATE;
    return v === '1' || v === 'true';
  }

  private maxAttempts(): number {
    const n = Number(this.env.EDGEHARNESS_WEBHOOK_MAX_ATTEMPTS);
    return Number.isInteger(n) && n >= 1 ? n : 8;
  }

  /** The wait before attempt `attempt + 1`: base (default 30 s) doubling per failed attempt, at most 6 hours. */
  private backoffMs(attempt: number): number {
    const b = Number(this.env.EDGEHARNESS_WEBHOOK_RETRY_BASE_MS);
    const base = Number.isFinite(b) && b >= 0 ? b : 30_000;
    return Math.min(base * 2 ** Math.max(0, attempt - 1), MAX_BACKOFF_MS);
  }

  private row(id: string): EndpointRow | undefined {
    return this.sql.exec<EndpointRow>(`SELECT * FROM endpoints WHERE id = ?`, id).toArray()[0];
  }

  private view(r: EndpointRow): WebhookEndpoint {
    return {
      id: r.id,
      created_at: r.created_at,
      updated_at: r.updated_at,
      url: r.url,
      name: r.name,
      description: r.description,
      enabled_events: JSON.parse(r.enabled_events) as WebhookEventType[],
      state: r.state as 'enabled' | 'disabled',
      disabled_reason: r.disabled_reason,
    };
  }

  async createEndpoint(p: WebhookCreateParams): Promise<Result<NewWebhookEndpoint>> {
    const problem = webhookUrlProblem(p.url, this.allowPrivate());
    if (problem) return fail('invalid_request_error', `url: ${problem}`);
    const count = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM endpoints`).one().n;
    if (count >= MAX_WEBHOOK_ENDPOINTS) return fail('invalid_request_error', `an organization can have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first`);
    const seq = this.sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM endpoints`).one().s ?? 0;
    const now = new Date().toISOString();
    const id = randomId('whep');
    const secret = newSecret();
    this.sql.exec(
      `INSERT INTO endpoints (id, seq, url, name, description, enabled_events, state, disabled_reason, secret, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'enabled', '', ?, ?, ?)`,
      id, seq + 1, p.url, p.name ?? '', p.description ?? '', JSON.stringify([...new Set(p.enabled_events)]), secret, now, now,
    );
    return ok({ ...this.view(this.row(id)!), signing_secret: secret });
  }

  async getEndpoint(id: string): Promise<Result<WebhookEndpoint>> {
    const r = this.row(id);
    return r ? ok(this.view(r)) : fail('not_found_error', `webhook endpoint ${id} not found`);
  }

  async updateEndpoint(id: string, p: WebhookUpdateParams): Promise<Result<WebhookEndpoint>> {
    const r = this.row(id);
    if (!r) return fail('not_found_error', `webhook endpoint ${id} not found`);
    if (p.url !== undefined) {
      const problem = webhookUrlProblem(p.url, this.allowPrivate());
      if (problem) return fail('invalid_request_error', `url: ${problem}`);
      r.url = p.url;
    }
    if (p.name !== undefined) r.name = p.name;
    if (p.description !== undefined) r.description = p.description;
    if (p.enabled_events !== undefined && p.enabled_events.length > 0) r.enabled_events = JSON.stringify([...new Set(p.enabled_events)]);
    if (p.state !== undefined) {
      // `enabled` clears the reason; disabling by hand leaves it empty (SDK doc).
      r.state = p.state;
      r.disabled_reason = '';
      // Events of a disabled endpoint are never delivered: what was queued for it goes.
      if (p.state === 'disabled') this.sql.exec(`DELETE FROM deliveries WHERE endpoint_id = ?`, id);
    }
    r.updated_at = new Date().toISOString();
    this.sql.exec(
      `UPDATE endpoints SET url = ?, name = ?, description = ?, enabled_events = ?, state = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
      r.url, r.name, r.description, r.enabled_events, r.state, r.disabled_reason, r.updated_at, id,
    );
    return ok(this.view(r));
  }

  async listEndpoints(q: { limit: number; order: 'asc' | 'desc'; before_id?: string; after_id?: string }): Promise<
    Result<{ data: WebhookEndpoint[]; has_more: boolean; first_id: string | null; last_id: string | null }>
  > {
    const all = this.sql.exec<EndpointRow>(`SELECT * FROM endpoints ORDER BY seq ${q.order === 'asc' ? 'ASC' : 'DESC'}`).toArray();
    let items = all;
    let fromEnd = false;
    if (q.after_id !== undefined) {
      const i = all.findIndex((r) => r.id === q.after_id);
      if (i < 0) return fail('invalid_request_error', `after_id: no webhook endpoint ${q.after_id}`);
      items = all.slice(i + 1);
    } else if (q.before_id !== undefined) {
      const i = all.findIndex((r) => r.id === q.before_id);
      if (i < 0) return fail('invalid_request_error', `before_id: no webhook endpoint ${q.before_id}`);
      items = all.slice(0, i);
      fromEnd = true;
    }
    const page = fromEnd ? items.slice(Math.max(0, items.length - q.limit)) : items.slice(0, q.limit);
    const data = page.map((r) => this.view(r));
    return ok({ data, has_more: items.length > page.length, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  }

  async deleteEndpoint(id: string): Promise<Result<{ id: string; type: 'webhook_endpoint_deleted' }>> {
    if (!this.row(id)) return fail('not_found_error', `webhook endpoint ${id} not found`);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM deliveries WHERE endpoint_id = ?`, id);
      this.sql.exec(`DELETE FROM endpoints WHERE id = ?`, id);
    });
    return ok({ id, type: 'webhook_endpoint_deleted' });
  }

  async regenerateSecret(id: string): Promise<Result<{ signing_secret: string }>> {
    if (!this.row(id)) return fail('not_found_error', `webhook endpoint ${id} not found`);
    const secret = newSecret();
    this.sql.exec(`UPDATE endpoints SET secret = ?, updated_at = ? WHERE id = ?`, secret, new Date().toISOString(), id);
    return ok({ signing_secret: secret });
  }

  /**
   * Queues each event for every enabled endpoint that subscribes to its type, and wakes the alarm. Answers how many
   * deliveries were queued. Events with no subscriber leave nothing behind.
   */
  async enqueue(events: WebhookEventData[]): Promise<number> {
    if (!events.length) return 0;
    const endpoints = this.sql
      .exec<EndpointRow>(`SELECT * FROM endpoints WHERE state = 'enabled'`)
      .toArray()
      .map((r) => ({ id: r.id, events: new Set(JSON.parse(r.enabled_events) as string[]) }));
    if (!endpoints.length) return 0;
    const now = Date.now();
    let queued = 0;
    this.ctx.storage.transactionSync(() => {
      for (const data of events) {
        const targets = endpoints.filter((e) => e.events.has(data.type));
        if (!targets.length) continue;
        const event: WebhookEvent = { type: 'event', id: randomId('wevt'), created_at: new Date(now).toISOString(), data };
        const payload = JSON.stringify(event);
        for (const t of targets) {
          this.sql.exec(
            `INSERT INTO deliveries (id, endpoint_id, event_id, payload, attempts, next_at) VALUES (?, ?, ?, ?, 0, ?)`,
            randomId('whmsg'), t.id, event.id, payload, now,
          );
          queued++;
        }
      }
    });
    if (queued) {
      // Sent now, without waiting for the alarm to be scheduled; the alarm stays set, in case this object stops first.
      await this.ctx.storage.setAlarm(now);
      this.ctx.waitUntil(this.drain());
    }
    return queued;
  }

  /** Test and operator view: deliveries still queued (sent ones are gone). */
  async pending(): Promise<{ endpoint_id: string; event_id: string; attempts: number; last_error: string }[]> {
    return this.sql
      .exec<DeliveryRow>(`SELECT * FROM deliveries ORDER BY next_at`)
      .toArray()
      .map((d) => ({ endpoint_id: d.endpoint_id, event_id: d.event_id, attempts: d.attempts, last_error: d.last_error }));
  }

  override async alarm(): Promise<void> {
    await this.drain();
  }

  /** Sends what is due. Rows are claimed without a pause (no await), so two drains at once never send one row twice. */
  private async drain(): Promise<void> {
    const now = Date.now();
    const due = this.sql.exec<DeliveryRow>(`SELECT * FROM deliveries WHERE next_at <= ? ORDER BY next_at LIMIT ?`, now, BATCH).toArray();
    // Each row is claimed before it is sent: pushed past the send's timeout, so no other drain sends it meanwhile,
    // and a send cut off by a restart is sent again then. A failed send then sets the row's retry time.
    for (const d of due) {
      d.attempts += 1;
      d.next_at = now + SEND_TIMEOUT_MS + CLAIM_SLACK_MS;
      this.sql.exec(`UPDATE deliveries SET attempts = ?, next_at = ? WHERE id = ?`, d.attempts, d.next_at, d.id);
    }
    await this.rearm();
    await Promise.all(due.map((d) => this.send(d)));
    await this.rearm();
  }

  private async rearm(): Promise<void> {
    const next = this.sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM deliveries`).one().t;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(next, Date.now()));
  }

  private async send(d: DeliveryRow): Promise<void> {
    const ep = this.row(d.endpoint_id);
    if (!ep || ep.state !== 'enabled') {
      this.sql.exec(`DELETE FROM deliveries WHERE id = ?`, d.id);
      return;
    }
    let error: string;
    const problem = webhookUrlProblem(ep.url, this.allowPrivate());
    if (problem) error = `url ${problem}`;
    else {
      try {
        const timestamp = Math.floor(Date.now() / 1000);
        const res = await fetch(ep.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'edgeharness-webhooks/1',
            'webhook-id': d.event_id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': await signStandardWebhook(ep.secret, d.event_id, timestamp, d.payload),
          },
          body: d.payload,
          redirect: 'manual',
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        });
        await res.body?.cancel();
        if (res.status >= 200 && res.status < 300) {
          this.sql.exec(`DELETE FROM deliveries WHERE id = ?`, d.id);
          return;
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        error = (err as Error).message || String(err);
      }
    }
    if (d.attempts < this.maxAttempts()) {
      this.sql.exec(`UPDATE deliveries SET last_error = ?, next_at = ? WHERE id = ?`, error, Date.now() + this.backoffMs(d.attempts), d.id);
      return;
    }
    // The last attempt failed: the endpoint is disabled and nothing more is sent to it.
    const reason = `Disabled after ${d.attempts} failed delivery attempts of event ${d.event_id}; the last one: ${error}.`;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE endpoints SET state = 'disabled', disabled_reason = ?, updated_at = ? WHERE id = ?`, reason, new Date().toISOString(), ep.id);
      this.sql.exec(`DELETE FROM deliveries WHERE endpoint_id = ?`, ep.id);
    });
  }
}
