// A deployment run: the one place a run starts, whatever triggered it (`run` now, the schedule's alarm, a signed
// inbound webhook). It creates a session as POST /v1/sessions does (worker/api/routes/sessions.ts; the layers keep
// a Durable Object from importing a route, so the few steps are repeated here), seeds its log with the
// deployment's initial events and then any trigger events (a webhook's payload), and records the run, with the
// session or with the error that stopped it. A scheduled run that fails auto-pauses its deployment with that error
// as `paused_reason` (deployments.d.ts), except a rate limit ("The schedule keeps firing").
//
// Outbound webhooks: `onRunRecorded` is called exactly once per new run (never for a redelivered or repeated
// trigger answered with the run it already has) and raises its `deployment_run.*` events.
import type { Env } from '../worker/env.ts';
import { ORGANIZATION_ID, type WebhookEventData, type WebhookEventType } from '../contract/webhook.ts';
import { webhookOutbox } from './stubs.ts';
import type { Result } from '../contract/result.ts';
import type { Agent } from '../contract/agent.ts';
import type { Environment } from '../contract/environment.ts';
import { sandboxNetworking } from '../contract/environment.ts';
import type { Session, SessionCreateParams } from '../contract/session.ts';
import { sessionSpec } from '../contract/session-spec.ts';
import type { EventParams } from '../contract/event.ts';
import type { DeploymentRun, RunErrorType, TriggerContext } from '../contract/deployment.ts';
import type { SkillSummary } from '../contract/skill.ts';
import type { Vault } from '../contract/vault.ts';
import { newRunId, nowIso, type Deployments } from '../resources/deployments/deployments.ts';
import { sessionLog } from './stubs.ts';

/** What a run reads and writes of its workspace (the WorkspaceStore hands itself in). */
export interface RunWorkspace {
  readonly deployments: Deployments;
  getAgent(id: string, version?: number): Promise<Result<Agent>>;
  getEnvironment(id: string): Promise<Result<Environment>>;
  getVault(id: string): Promise<Result<Vault>>;
  createSession(p: SessionCreateParams): Promise<Result<Session>>;
  deleteSession(id: string): Promise<Result<unknown>>;
  skillSummaries(entries: Array<{ type: string; skill_id: string; version: string }>): Promise<SkillSummary[]>;
  /** Keeps work the run does not wait for (its webhook events) alive past the answer. */
  waitUntil(p: Promise<unknown>): void;
}

/**
 * Called once for each run recorded (see the header): raises `deployment_run.started` and then
 * `deployment_run.succeeded` (a session was made) or `deployment_run.failed` (an error stopped it), and
 * `deployment.paused` when that failure paused a schedule. One RPC to the outbox, never awaited: a run never waits on
 * or fails by its webhooks.
 */
export function onRunRecorded(env: Env, ws: Pick<RunWorkspace, 'waitUntil'>, workspaceId: string, run: DeploymentRun, autoPaused: boolean): void {
  const about = (type: WebhookEventType, id: string): WebhookEventData => ({ type, id, organization_id: ORGANIZATION_ID, workspace_id: workspaceId });
  const events = [about('deployment_run.started', run.id), about(run.error ? 'deployment_run.failed' : 'deployment_run.succeeded', run.id)];
  if (autoPaused) events.push(about('deployment.paused', run.deployment_id));
  ws.waitUntil(webhookOutbox(env).enqueue(events).catch((err: unknown) => console.error('webhook enqueue failed', err)));
}

class RunFailure extends Error {
  readonly type: RunErrorType;
  constructor(type: RunErrorType, message: string) {
    super(message);
    this.type = type;
  }
}

/**
 * Starts a run of `deploymentId` for `trigger`, or answers the run that trigger already started (a retried alarm,
 * a redelivered webhook). `extra` events follow the initial events in the session's log.
 */
export async function startRun(
  env: Env,
  workspaceId: string,
  ws: RunWorkspace,
  deploymentId: string,
  trigger: TriggerContext,
  extra: EventParams[] = [],
): Promise<Result<DeploymentRun>> {
  const existing = ws.deployments.existingRun(deploymentId, trigger);
  if (existing) return { ok: true, value: existing };
  const plan = ws.deployments.plan(deploymentId);
  if (!plan.ok) return plan;
  const d = plan.value.deployment;
  if (d.archived_at) return { ok: false, error: { type: 'invalid_request_error', message: `deployment '${deploymentId}' is archived` } };
  // "Autonomous triggers are suppressed" while paused: a webhook is one; `run` (manual) is not.
  if (trigger.type === 'webhook' && d.status === 'paused') return { ok: false, error: { type: 'conflict_error', message: `deployment '${deploymentId}' is paused` } };
  let sessionId: string | null = null;
  let error: DeploymentRun['error'] = null;
  try {
    sessionId = await createSeededSession(env, workspaceId, ws, plan.value, [...(d.initial_events as EventParams[]), ...extra]);
  } catch (err) {
    error = err instanceof RunFailure ? { type: err.type, message: err.message } : { type: 'unknown_error', message: (err as Error).message ?? String(err) };
  }
  // A concurrent start of the same trigger may have recorded first; it wins and this session goes.
  const raced = ws.deployments.existingRun(deploymentId, trigger);
  if (raced) {
    if (sessionId) await discardSession(env, ws, sessionId);
    return { ok: true, value: raced };
  }
  const run: DeploymentRun = {
    type: 'deployment_run',
    id: newRunId(),
    agent: d.agent,
    created_at: nowIso(),
    deployment_id: d.id,
    error,
    session_id: error ? null : sessionId,
    trigger_context: trigger,
  };
  ws.deployments.recordRun(run);
  let autoPaused = false;
  if (trigger.type === 'schedule') {
    if (error && error.type !== 'session_rate_limited_error') {
      const reasonType = error.type === 'session_creation_rejected_error' ? 'unknown_error' : error.type;
      autoPaused = ws.deployments.pause(d.id, { type: 'error', error: { type: reasonType } }).ok;
    } else if (!error) ws.deployments.noteScheduledRun(d.id, run.created_at);
  }
  onRunRecorded(env, ws, workspaceId, run, autoPaused);
  return { ok: true, value: run };
}

async function createSeededSession(
  env: Env,
  workspaceId: string,
  ws: RunWorkspace,
  plan: { deployment: import('../contract/deployment.ts').Deployment; resources: SessionCreateParams['resources'] },
  events: EventParams[],
): Promise<string> {
  const d = plan.deployment;
  const environment = await ws.getEnvironment(d.environment_id);
  if (!environment.ok) throw new RunFailure('environment_not_found_error', `environment '${d.environment_id}' not found`);
  if (environment.value.archived_at) throw new RunFailure('environment_archived_error', `environment '${d.environment_id}' is archived`);
  const agent = await ws.getAgent(d.agent.id, d.agent.version);
  if (!agent.ok) throw new RunFailure('unknown_error', `agent '${d.agent.id}' version ${d.agent.version} not found`);
  if (agent.value.archived_at) throw new RunFailure('agent_archived_error', `agent '${d.agent.id}' is archived`);
  for (const id of d.vault_ids) {
    const vault = await ws.getVault(id);
    if (!vault.ok) throw new RunFailure('vault_not_found_error', `vault '${id}' not found`);
    if (vault.value.archived_at) throw new RunFailure('vault_archived_error', `vault '${id}' is archived`);
  }
  const created = await ws.createSession({
    agent: { type: 'agent', id: d.agent.id, version: d.agent.version },
    environment_id: d.environment_id,
    vault_ids: d.vault_ids,
    ...(plan.resources?.length ? { resources: plan.resources } : {}),
    ...(d.budget ? { budget: d.budget } : {}),
    metadata: { deployment_id: d.id },
  });
  if (!created.ok) throw new RunFailure('session_creation_rejected_error', created.error.message);
  const session = created.value;
  const log = sessionLog(env, session.id);
  try {
    const skills = session.agent.skills.length ? await ws.skillSummaries(session.agent.skills) : [];
    await log.init({ spec: sessionSpec(session, workspaceId, sandboxNetworking(environment.value.config), skills), notices: [] });
    const appended = await log.appendInput(events);
    if (!appended.ok) throw new RunFailure('session_creation_rejected_error', `initial_events: ${appended.error.message}`);
  } catch (err) {
    await discardSession(env, ws, session.id);
    throw err;
  }
  return session.id;
}

async function discardSession(env: Env, ws: RunWorkspace, id: string): Promise<void> {
  await ws.deleteSession(id);
  await sessionLog(env, id).destroy().catch(() => {});
}
