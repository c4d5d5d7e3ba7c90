// Deployments: an agent bound to an environment, vaults, resources, initial events, a budget and an optional cron
// schedule; and their runs, an append-only record of each session a deployment started (or failed to). The
// schedule's state is here (the next fire, before jitter); the Durable Object alarm that acts on it is
// durable-objects/deployment-scheduler.ts, and what a run does is durable-objects/deployment-runs.ts.
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import { nextFires, parseCron } from '../../contract/cron.ts';
import type {
  Deployment,
  DeploymentCreateParams,
  DeploymentListQuery,
  DeploymentRun,
  DeploymentRunListQuery,
  DeploymentUpdateParams,
  PausedReason,
  ScheduleParams,
  TriggerContext,
  WebhookTrigger,
} from '../../contract/deployment.ts';
import type { AgentReference } from '../../contract/multiagent.ts';
import type { SessionResourceParams } from '../../contract/session-resource.ts';
import type { z } from 'zod';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { listBodies, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { deserialise, readBody, serialise, timestamp } from '../shared/rows.ts';

const TABLE = 'deployments';
const UPCOMING = 5;
/** The most a fire is delayed past its listed time: "a small per-schedule jitter" (deployments.d.ts). */
export const MAX_JITTER_MS = 10_000;

type ResourceParams = z.infer<typeof SessionResourceParams>;

const deploymentNotFound = (id: string): Result<never> => fail('not_found_error', `deployment '${id}' not found`);

/** The stored body: the response minus the computed `upcoming_runs_at`. */
type StoredDeployment = Deployment;

/** What a run needs: the deployment plus its resources as sent (repository tokens included). */
export interface RunPlan {
  deployment: Deployment;
  resources: ResourceParams[];
}

/** A deployment's fixed offset past each listed fire time, from its id: the same every fire, spread across deployments. */
export function jitterMs(deploymentId: string): number {
  let h = 2166136261;
  for (let i = 0; i < deploymentId.length; i++) h = Math.imul(h ^ deploymentId.charCodeAt(i), 16777619);
  return (h >>> 0) % MAX_JITTER_MS;
}

function firstFireAfter(s: ScheduleParams | { expression: string; timezone: string }, after: number): number | null {
  const parsed = parseCron(s.expression);
  if (!parsed.ok) return null;
  return nextFires(parsed.cron, s.timezone, after, 1)[0] ?? null;
}

/** Repository tokens are write-only: the echo leaves them out. */
function echoResources(resources: ResourceParams[]): Array<Record<string, unknown>> {
  return resources.map((r) => {
    const { authorization_token: _t, ...rest } = r as ResourceParams & { authorization_token?: string };
    return rest;
  });
}

export class Deployments extends Queries {
  create(p: DeploymentCreateParams, agent: AgentReference, now = Date.now()): Result<{ deployment: Deployment; secret: string | null }> {
    const at = new Date(now).toISOString();
    const resources = p.resources ?? [];
    const d: StoredDeployment = {
      type: 'deployment',
      id: newId('depl'),
      agent,
      archived_at: null,
      created_at: at,
      updated_at: at,
      description: p.description ?? null,
      environment_id: p.environment_id,
      initial_events: p.initial_events,
      metadata: p.metadata ?? {},
      name: p.name,
      paused_reason: null,
      resources: echoResources(resources),
      schedule: p.schedule ? { type: 'cron', expression: p.schedule.expression, timezone: p.schedule.timezone, last_run_at: null, upcoming_runs_at: [] } : null,
      status: 'active',
      vault_ids: p.vault_ids ?? [],
      budget: p.budget ?? null,
      ...(p.webhook_trigger ? { webhook_trigger: triggerOf(p.webhook_trigger.enabled, p.webhook_trigger.message_template || undefined) } : {}),
    };
    const secret = p.webhook_trigger?.enabled ? newSigningSecret() : null;
    this.sql.exec(
      `INSERT INTO deployments (id, created_at, agent_id, status, resource_params, next_fire_at, webhook_secret, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      d.id,
      at,
      agent.id,
      d.status,
      serialise(resources),
      p.schedule ? firstFireAfter(p.schedule, now) : null,
      secret,
      serialise(d),
    );
    return ok({ deployment: this.view(d, now), secret });
  }

  get(id: string, now = Date.now()): Result<Deployment> {
    const d = readBody<StoredDeployment>(this.sql, TABLE, id);
    return d ? ok(this.view(d, now)) : deploymentNotFound(id);
  }

  /** The deployment and its resources as sent, for a run. */
  plan(id: string): Result<RunPlan> {
    const row = this.sql.exec<{ body: string; resource_params: string }>(`SELECT body, resource_params FROM deployments WHERE id = ?`, id).toArray()[0];
    if (!row) return deploymentNotFound(id);
    return ok({ deployment: deserialise<Deployment>(row.body), resources: deserialise<ResourceParams[]>(row.resource_params) });
  }

  update(id: string, p: DeploymentUpdateParams, agent: AgentReference | undefined, now = Date.now()): Result<{ deployment: Deployment; secret: string | null }> {
    const cur = readBody<StoredDeployment>(this.sql, TABLE, id);
    if (!cur) return deploymentNotFound(id);
    if (cur.archived_at) return fail('invalid_request_error', `deployment '${id}' is archived and cannot be updated`);
    const metadata = applyMetadataPatch(cur.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    const next: StoredDeployment = {
      ...cur,
      updated_at: new Date(now).toISOString(),
      agent: agent ?? cur.agent,
      environment_id: p.environment_id ?? cur.environment_id,
      initial_events: p.initial_events ?? cur.initial_events,
      name: p.name ?? cur.name,
      metadata,
      description: p.description === undefined ? cur.description : p.description || null,
      budget: p.budget === undefined ? cur.budget : p.budget,
      vault_ids: p.vault_ids === undefined ? cur.vault_ids : (p.vault_ids ?? []),
    };
    if (p.resources !== undefined) next.resources = echoResources(p.resources ?? []);
    let secret: string | null = null;
    if (p.webhook_trigger !== undefined) {
      const enabled = p.webhook_trigger?.enabled ?? false;
      const had = this.secretOf(id);
      if (enabled && !had) secret = newSigningSecret();
      // the template is kept unless the update names it: null or "" removes it
      const asked = p.webhook_trigger?.message_template;
      next.webhook_trigger = triggerOf(enabled, asked === undefined ? cur.webhook_trigger?.message_template : asked || undefined);
      if (secret) this.sql.exec(`UPDATE deployments SET webhook_secret = ? WHERE id = ?`, secret, id);
    }
    if (p.schedule !== undefined) {
      next.schedule = p.schedule
        ? { type: 'cron', expression: p.schedule.expression, timezone: p.schedule.timezone, last_run_at: cur.schedule?.last_run_at ?? null, upcoming_runs_at: [] }
        : null;
      this.sql.exec(`UPDATE deployments SET next_fire_at = ? WHERE id = ?`, p.schedule ? firstFireAfter(p.schedule, now) : null, id);
    }
    if (p.resources !== undefined) this.sql.exec(`UPDATE deployments SET resource_params = ? WHERE id = ?`, serialise(p.resources ?? []), id);
    this.sql.exec(`UPDATE deployments SET agent_id = ?, body = ? WHERE id = ?`, next.agent.id, serialise(next), id);
    return ok({ deployment: this.view(next, now), secret });
  }

  list(q: DeploymentListQuery, now = Date.now()): Result<Page<Deployment>> {
    if (q.include_archived && q.status) return fail('invalid_request_error', 'status: cannot be combined with include_archived');
    const args: ListArgs = {
      limit: q.limit,
      page: q.page,
      includeArchived: q.include_archived,
      createdGte: q['created_at[gte]'],
      createdLte: q['created_at[lte]'],
    };
    const where: string[] = [];
    const params: string[] = [];
    if (q.agent_id) (where.push('agent_id = ?'), params.push(q.agent_id));
    if (q.status) (where.push('status = ?'), params.push(q.status));
    const page = listBodies<StoredDeployment>(this.sql, TABLE, args, { where, params });
    return page.ok ? ok({ ...page.value, data: page.value.data.map((d) => this.view(d, now)) }) : page;
  }

  archive(id: string, now = Date.now()): Result<Deployment> {
    const cur = readBody<StoredDeployment>(this.sql, TABLE, id);
    if (!cur) return deploymentNotFound(id);
    if (cur.archived_at) return ok(this.view(cur, now));
    const at = new Date(now).toISOString();
    // "Archived deployments report `active` with `archived_at` set."
    const next: StoredDeployment = { ...cur, archived_at: at, updated_at: at, status: 'active', paused_reason: null };
    this.sql.exec(`UPDATE deployments SET archived_at = ?, status = 'active', next_fire_at = NULL, body = ? WHERE id = ?`, at, serialise(next), id);
    return ok(this.view(next, now));
  }

  pause(id: string, reason: PausedReason, now = Date.now()): Result<Deployment> {
    const cur = readBody<StoredDeployment>(this.sql, TABLE, id);
    if (!cur) return deploymentNotFound(id);
    if (cur.archived_at) return fail('invalid_request_error', `deployment '${id}' is archived`);
    if (cur.status === 'paused' && reason.type === 'manual') return ok(this.view(cur, now));
    const next: StoredDeployment = { ...cur, status: 'paused', paused_reason: reason, updated_at: new Date(now).toISOString() };
    this.sql.exec(`UPDATE deployments SET status = 'paused', body = ? WHERE id = ?`, serialise(next), id);
    return ok(this.view(next, now));
  }

  /** Active again; the schedule resumes from now (fires missed while paused are not made up). */
  unpause(id: string, now = Date.now()): Result<Deployment> {
    const cur = readBody<StoredDeployment>(this.sql, TABLE, id);
    if (!cur) return deploymentNotFound(id);
    if (cur.archived_at) return fail('invalid_request_error', `deployment '${id}' is archived`);
    if (cur.status === 'active') return ok(this.view(cur, now));
    const next: StoredDeployment = { ...cur, status: 'active', paused_reason: null, updated_at: new Date(now).toISOString() };
    this.sql.exec(
      `UPDATE deployments SET status = 'active', next_fire_at = ?, body = ? WHERE id = ?`,
      cur.schedule ? firstFireAfter(cur.schedule, now) : null,
      serialise(next),
      id,
    );
    return ok(this.view(next, now));
  }

  secretOf(id: string): string | null {
    return this.sql.exec<{ webhook_secret: string | null }>(`SELECT webhook_secret FROM deployments WHERE id = ?`, id).toArray()[0]?.webhook_secret ?? null;
  }

  regenerateSecret(id: string, now = Date.now()): Result<{ deployment: Deployment; secret: string }> {
    const cur = readBody<StoredDeployment>(this.sql, TABLE, id);
    if (!cur) return deploymentNotFound(id);
    if (!cur.webhook_trigger?.enabled) return fail('invalid_request_error', `webhook_trigger: not enabled on deployment '${id}'`);
    const secret = newSigningSecret();
    this.sql.exec(`UPDATE deployments SET webhook_secret = ? WHERE id = ?`, secret, id);
    return ok({ deployment: this.view(cur, now), secret });
  }

  // ---------- the schedule ----------

  /**
   * When the deployment's alarm should next go off (the next fire plus its jitter), or null: no schedule, paused
   * or archived.
   */
  alarmAt(id: string): number | null {
    const row = this.sql.exec<{ status: string; archived_at: string | null; next_fire_at: number | null }>(
      `SELECT status, archived_at, next_fire_at FROM deployments WHERE id = ?`,
      id,
    ).toArray()[0];
    if (!row || row.archived_at || row.status !== 'active' || row.next_fire_at === null) return null;
    return row.next_fire_at + jitterMs(id);
  }

  /**
   * The fire that is due at `now`, moving the schedule past `now`: however many fires were missed (the runtime was
   * down), one is due, the earliest missed, and the next is the first after `now`. Null when nothing is due.
   */
  takeDueFire(id: string, now: number): number | null {
    const at = this.alarmAt(id);
    if (at === null || at > now) return null;
    const row = this.sql.exec<{ next_fire_at: number; body: string }>(`SELECT next_fire_at, body FROM deployments WHERE id = ?`, id).one();
    const d = deserialise<StoredDeployment>(row.body);
    this.sql.exec(`UPDATE deployments SET next_fire_at = ? WHERE id = ?`, d.schedule ? firstFireAfter(d.schedule, now) : null, id);
    return row.next_fire_at;
  }

  /** "Time the most recent scheduled run actually started"; manual runs do not update it. */
  noteScheduledRun(id: string, startedAt: string): void {
    const cur = readBody<StoredDeployment>(this.sql, TABLE, id);
    if (!cur?.schedule) return;
    const next = { ...cur, schedule: { ...cur.schedule, last_run_at: startedAt } };
    this.sql.exec(`UPDATE deployments SET body = ? WHERE id = ?`, serialise(next), id);
  }

  private view(d: StoredDeployment, now: number): Deployment {
    if (!d.schedule) return d;
    const row = this.sql.exec<{ next_fire_at: number | null }>(`SELECT next_fire_at FROM deployments WHERE id = ?`, d.id).toArray()[0];
    let upcoming: string[] = [];
    // "Non-empty for active and paused deployments (reflects what the schedule would do if unpaused); empty once
    // the deployment is archived." Listed before jitter.
    if (!d.archived_at) {
      const parsed = parseCron(d.schedule.expression);
      const from = d.status === 'paused' ? now : Math.min(now, (row?.next_fire_at ?? now + 1) - 1);
      if (parsed.ok) upcoming = nextFires(parsed.cron, d.schedule.timezone, from, UPCOMING).map((t) => new Date(t).toISOString());
    }
    return { ...d, schedule: { ...d.schedule, upcoming_runs_at: upcoming } };
  }

  // ---------- runs ----------

  /** The run a (deployment, scheduled fire) or (deployment, webhook delivery) already has, if any. */
  existingRun(deploymentId: string, trigger: TriggerContext): DeploymentRun | null {
    let row: { body: string } | undefined;
    if (trigger.type === 'schedule')
      row = this.sql.exec<{ body: string }>(`SELECT body FROM deployment_runs WHERE deployment_id = ? AND scheduled_at = ?`, deploymentId, trigger.scheduled_at).toArray()[0];
    else if (trigger.type === 'webhook')
      row = this.sql.exec<{ body: string }>(`SELECT body FROM deployment_runs WHERE deployment_id = ? AND webhook_id = ?`, deploymentId, trigger.webhook_id).toArray()[0];
    return row ? deserialise<DeploymentRun>(row.body) : null;
  }

  recordRun(run: DeploymentRun): DeploymentRun {
    const t = run.trigger_context;
    this.sql.exec(
      `INSERT INTO deployment_runs (id, deployment_id, created_at, trigger_type, has_error, scheduled_at, webhook_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      run.id,
      run.deployment_id,
      run.created_at,
      t.type,
      run.error ? 1 : 0,
      t.type === 'schedule' ? t.scheduled_at : null,
      t.type === 'webhook' ? t.webhook_id : null,
      serialise(run),
    );
    return run;
  }

  getRun(id: string): Result<DeploymentRun> {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM deployment_runs WHERE id = ?`, id).toArray()[0];
    return row ? ok(deserialise<DeploymentRun>(row.body)) : fail('not_found_error', `deployment run '${id}' not found`);
  }

  listRuns(q: DeploymentRunListQuery): Result<Page<DeploymentRun>> {
    const where: string[] = [];
    const params: string[] = [];
    if (q.deployment_id) (where.push('deployment_id = ?'), params.push(q.deployment_id));
    if (q.trigger_type) (where.push('trigger_type = ?'), params.push(q.trigger_type));
    if (q.has_error !== undefined) where.push(q.has_error ? 'has_error = 1' : 'has_error = 0');
    return listBodies<DeploymentRun>(
      this.sql,
      'deployment_runs',
      { limit: q.limit, page: q.page, includeArchived: true, createdGte: q['created_at[gte]'], createdLte: q['created_at[lte]'], createdGt: q['created_at[gt]'], createdLt: q['created_at[lt]'] },
      { where, params },
    );
  }
}

export function newRunId(): string {
  return newId('drun');
}

export function nowIso(): string {
  return timestamp();
}

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
function newSigningSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** The stored trigger: its URL is filled in per request (it depends on the origin), its template only when set. */
function triggerOf(enabled: boolean, template: string | undefined): WebhookTrigger {
  return { enabled, url: '', ...(template ? { message_template: template } : {}) };
}
