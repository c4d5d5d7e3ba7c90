// Deployments and their runs, mirroring beta/deployments.d.ts and beta/deployment-runs.d.ts, plus the inbound
// webhook trigger extension (docs/deployments.md).
import { z } from 'zod';
import type * as Sdk from '@anthropic-ai/sdk/resources/beta/deployments';
import type * as SdkRuns from '@anthropic-ai/sdk/resources/beta/deployment-runs';
import { ListQuery, Metadata, MetadataPatch, type Assignable } from './common.ts';
import { isTimeZone, parseCron } from './cron.ts';
import { UserDefineOutcomeParams, UserMessageParams } from './event.ts';
import type { AgentReference } from './multiagent.ts';
import { SessionCreateParams } from './session.ts';
import { SessionResourceParams } from './session-resource.ts';
import { LIMITS } from './size-limits.ts';
import { MAX_TEMPLATE_CHARS, templateProblem } from './webhook-template.ts';

const Id = z.string().min(1).max(LIMITS.id);
/** official: initial events "At least 1, maximum 50"; vault ids "Maximum 50"; resources "Maximum 500". */
const MAX_INITIAL_EVENTS = 50;
const MAX_VAULT_IDS = 50;
const MAX_RESOURCES = 500;

const SystemMessageParams = z.strictObject({
  type: z.literal('system.message'),
  content: z.array(z.strictObject({ type: z.literal('text'), text: z.string().min(1) })).min(1),
});
const InitialEvent = z.discriminatedUnion('type', [UserMessageParams, UserDefineOutcomeParams, SystemMessageParams]);
export type InitialEvent = z.infer<typeof InitialEvent>;

const AgentParam = z.union([Id, z.strictObject({ type: z.literal('agent'), id: Id, version: z.number().int().min(1) })]);
export type AgentParam = z.infer<typeof AgentParam>;

export const ScheduleParams = z
  .strictObject({ type: z.literal('cron'), expression: z.string().min(1).max(256), timezone: z.string().min(1).max(64) })
  .superRefine((s, ctx) => {
    const parsed = parseCron(s.expression);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', path: ['expression'], message: parsed.problem });
    if (!isTimeZone(s.timezone)) ctx.addIssue({ code: 'custom', path: ['timezone'], message: `'${s.timezone}' is not an IANA timezone` });
  });
export type ScheduleParams = z.infer<typeof ScheduleParams>;

/** Extension: `{enabled: true}` gives the deployment a signed inbound URL that starts a run (docs/deployments.md). */
const WebhookTriggerParams = z.strictObject({
  enabled: z.boolean(),
  /** Extension of the extension: how the body becomes the run's message (contract/webhook-template.ts); `null` or `""` removes it. */
  message_template: z
    .string()
    .max(MAX_TEMPLATE_CHARS)
    .superRefine((t, ctx) => {
      const problem = templateProblem(t);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .nullable()
    .optional(),
});

const Budget = SessionCreateParams.shape.budget.unwrap();
const Resources = z.array(SessionResourceParams).max(MAX_RESOURCES);

export const DeploymentCreateParams = z.strictObject({
  agent: AgentParam,
  environment_id: Id,
  initial_events: z.array(InitialEvent).min(1).max(MAX_INITIAL_EVENTS),
  name: z.string().min(1).max(LIMITS.name),
  budget: Budget.nullable().optional(),
  description: z.string().max(LIMITS.description).nullable().optional(),
  metadata: Metadata.optional(),
  resources: Resources.optional(),
  schedule: ScheduleParams.nullable().optional(),
  vault_ids: z.array(Id).max(MAX_VAULT_IDS).optional(),
  webhook_trigger: WebhookTriggerParams.nullable().optional(),
});
export type DeploymentCreateParams = z.infer<typeof DeploymentCreateParams>;

export const DeploymentUpdateParams = z.strictObject({
  agent: AgentParam.optional(),
  budget: Budget.nullable().optional(),
  description: z.string().max(LIMITS.description).nullable().optional(),
  environment_id: Id.optional(),
  initial_events: z.array(InitialEvent).min(1).max(MAX_INITIAL_EVENTS).optional(),
  metadata: MetadataPatch.nullable().optional(),
  name: z.string().min(1).max(LIMITS.name).optional(),
  resources: Resources.nullable().optional(),
  schedule: ScheduleParams.nullable().optional(),
  vault_ids: z.array(Id).max(MAX_VAULT_IDS).nullable().optional(),
  webhook_trigger: WebhookTriggerParams.nullable().optional(),
});
export type DeploymentUpdateParams = z.infer<typeof DeploymentUpdateParams>;

const boolish = z.enum(['true', 'false']).transform((v) => v === 'true');

export const DeploymentListQuery = ListQuery.extend({
  agent_id: Id.optional(),
  status: z.enum(['active', 'paused']).optional(),
});
export type DeploymentListQuery = z.infer<typeof DeploymentListQuery>;

export const DeploymentRunListQuery = ListQuery.omit({ include_archived: true }).extend({
  deployment_id: Id.optional(),
  has_error: boolish.optional(),
  trigger_type: z.enum(['schedule', 'manual', 'webhook']).optional(),
});
export type DeploymentRunListQuery = z.infer<typeof DeploymentRunListQuery>;

// ---- the shapes responses show ----

export type RunErrorType = SdkRuns.BetaManagedAgentsDeploymentRun['error'] extends infer E ? (E extends { type: infer T } ? T : never) : never;

export interface Schedule {
  type: 'cron';
  expression: string;
  timezone: string;
  last_run_at: string | null;
  upcoming_runs_at: string[];
}

export type PausedReason = { type: 'manual' } | { type: 'error'; error: { type: Exclude<RunErrorType, 'session_rate_limited_error' | 'session_creation_rejected_error'> } };

export interface WebhookTrigger {
  enabled: boolean;
  url: string;
  /** Present when set: the template the body is rendered through (contract/webhook-template.ts). */
  message_template?: string;
  /** Only on create and on regenerate_secret; stored, never listed. */
  signing_secret?: string;
}

export interface Deployment {
  type: 'deployment';
  id: string;
  agent: AgentReference;
  archived_at: string | null;
  created_at: string;
  updated_at: string;
  description: string | null;
  environment_id: string;
  initial_events: InitialEvent[];
  metadata: Record<string, string>;
  name: string;
  paused_reason: PausedReason | null;
  resources: Array<Record<string, unknown>>;
  schedule: Schedule | null;
  status: 'active' | 'paused';
  vault_ids: string[];
  budget: z.infer<typeof Budget> | null;
  /** Extension; absent when the deployment never had one. */
  webhook_trigger?: WebhookTrigger;
}

/** Extension of the trigger context: a run started by a signed inbound webhook. */
export type TriggerContext = { type: 'manual' } | { type: 'schedule'; scheduled_at: string } | { type: 'webhook'; webhook_id: string };

export interface DeploymentRun {
  type: 'deployment_run';
  id: string;
  agent: AgentReference;
  created_at: string;
  deployment_id: string;
  error: { type: RunErrorType; message: string } | null;
  session_id: string | null;
  trigger_context: TriggerContext;
}

// The shapes answer as the SDK's types say (the webhook extension aside).
type _Deployment = Assignable<Omit<Deployment, 'webhook_trigger' | 'paused_reason' | 'schedule'>, Omit<Sdk.BetaManagedAgentsDeployment, 'paused_reason' | 'schedule' | 'resources' | 'initial_events'>>;
type _Run = Assignable<Omit<DeploymentRun, 'trigger_context'>, Omit<SdkRuns.BetaManagedAgentsDeploymentRun, 'trigger_context'>>;
export type { _Deployment, _Run };
