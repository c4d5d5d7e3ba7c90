// Sessions: create/update/list params and the session resource, mirroring sessions.d.ts.
import { z } from 'zod';
import { AgentFields, ModelParams, type AgentDefinition } from './agent.ts';
import { Metadata, MetadataPatch } from './common.ts';
import type { SessionMultiagent } from './multiagent.ts';
import { UserDefineOutcomeParams, UserMessageParams } from './event.ts';
import { MAX_SESSION_RESOURCES, SessionResourceParams, type SessionResource } from './session-resource.ts';
import { LIMITS } from './size-limits.ts';
import type { OutcomeEvaluation } from './outcome.ts';

const Id = z.string().min(1).max(LIMITS.id);

const AgentRef = z.union([
  Id,
  z.strictObject({ type: z.literal('agent'), id: Id, version: z.number().int().min(1).optional() }),
  z.strictObject({
    type: z.literal('agent_with_overrides'),
    id: Id,
    version: z.number().int().min(1).optional(),
    model: ModelParams.optional(),
    // official: "Up to 100,000 characters", below an agent's own limit
    system: z.string().max(LIMITS.sessionSystemOverride).nullable().optional(),
    tools: AgentFields.tools.optional(),
    mcp_servers: AgentFields.mcp_servers.optional(),
    skills: AgentFields.skills.optional(),
  }),
]);
export type AgentRef = z.infer<typeof AgentRef>;

const MonetaryAmount = z.strictObject({ amount: z.string().max(LIMITS.amount).regex(/^\d+(\.\d+)?$/, 'expected a decimal string'), currency: z.literal('USD') });
const Budget = z.strictObject({ type: z.literal('limit'), max_list_cost: MonetaryAmount });


/** Extension: hard limits beyond the official USD budget. Each is optional; reaching one ends the turn. */
export const Limits = z.strictObject({
  max_tool_calls: z.number().int().min(0).optional(),
  max_model_requests: z.number().int().min(1).optional(),
  max_tokens: z.number().int().min(1).optional(),
  max_wall_seconds: z.number().int().min(1).optional(),
});
export type Limits = z.infer<typeof Limits>;

/** Extension: when the context would pass `trigger_tokens`, older turns are summarised (see docs/design.md). */
export const Compaction = z.strictObject({ trigger_tokens: z.number().int().min(500).optional() });
export type Compaction = z.infer<typeof Compaction>;

export const SessionCreateParams = z.strictObject({
  agent: AgentRef,
  environment_id: Id,
  budget: Budget.optional(),
  initial_events: z.array(z.discriminatedUnion('type', [UserMessageParams, UserDefineOutcomeParams])).max(LIMITS.initialEvents).optional(),
  metadata: Metadata.optional(),
  resources: z.array(SessionResourceParams).max(MAX_SESSION_RESOURCES).optional(),
  title: z.string().max(LIMITS.title).nullable().optional(),
  vault_ids: z.array(Id).max(LIMITS.vaultIds).optional(),
  limits: Limits.optional(),
  compaction: Compaction.optional(),
});
export type SessionCreateParams = z.infer<typeof SessionCreateParams>;

export const SessionUpdateParams = z.strictObject({
  agent: z
    .strictObject({
      tools: AgentFields.tools.optional(),
      mcp_servers: AgentFields.mcp_servers.optional(),
    })
    .optional(),
  budget: Budget.nullable().optional(),
  metadata: MetadataPatch.nullable().optional(),
  title: z.string().max(LIMITS.title).nullable().optional(),
  vault_ids: z.array(Id).max(LIMITS.vaultIds).optional(),
  limits: Limits.nullable().optional(),
});
export type SessionUpdateParams = z.infer<typeof SessionUpdateParams>;

const SESSION_STATUSES = ['rescheduling', 'running', 'idle', 'terminated'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const SessionListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  page: z.string().min(1).optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
  agent_id: z.string().optional(),
  agent_version: z.coerce.number().int().min(1).optional(),
  include_archived: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  'statuses[]': z.array(z.enum(SESSION_STATUSES)).optional(),
  'created_at[gt]': z.string().optional(),
  'created_at[gte]': z.string().optional(),
  'created_at[lt]': z.string().optional(),
  'created_at[lte]': z.string().optional(),
  deployment_id: z.string().optional(),
  memory_store_id: z.string().optional(),
});
export type SessionListQuery = z.infer<typeof SessionListQuery>;

export interface SessionAgent extends Omit<AgentDefinition, 'multiagent'> {
  /** The agents its threads may run, each pinned when the session was created (contract/multiagent.ts). */
  multiagent: SessionMultiagent | null;
  type: 'agent';
  id: string;
  version: number;
}

export interface SessionUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  list_cost: { amount: string; currency: 'USD' };
}

/** What the session log owns and reports back: status and accounting. */
export interface SessionRuntime {
  status: SessionStatus;
  usage: SessionUsage;
  stats: { active_seconds: number; duration_seconds: number };
  updated_at: string;
  /** Folded from the log's outcome events (contract/outcome.ts); absent leaves the stored list as it is. */
  outcome_evaluations?: OutcomeEvaluation[];
}

export interface Session extends SessionRuntime {
  type: 'session';
  id: string;
  agent: SessionAgent;
  environment_id: string;
  title: string | null;
  metadata: Metadata;
  budget: z.infer<typeof Budget> | null;
  /** Extension (see Limits). */
  limits: Limits;
  /** Extension (see Compaction). */
  compaction: Compaction;
  /** Read from the session's resources (resources/session-resources/), never from the session's own row. */
  resources: SessionResource[];
  vault_ids: string[];
  outcome_evaluations: OutcomeEvaluation[];
  created_at: string;
  archived_at: string | null;
}

export function emptyUsage(): SessionUsage {
  return {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    list_cost: { amount: '0', currency: 'USD' },
  };
}

export type Budget = z.infer<typeof Budget>;
