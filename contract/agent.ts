// Agents: request schemas (create/update) and the stored resource, mirroring the SDK's agents.d.ts.
import { z } from 'zod';
import { Metadata, MetadataPatch, tokenUrl } from './common.ts';
import { jsonAtMost, LIMITS } from './size-limits.ts';
import { MultiagentParams, type Multiagent } from './multiagent.ts';

const PermissionPolicy = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('always_allow') }),
  z.strictObject({ type: z.literal('always_ask') }),
  z.strictObject({ type: z.literal('auto') }),
]);
export type PermissionPolicy = z.infer<typeof PermissionPolicy>;

const AGENT_TOOL_NAMES = ['bash', 'edit', 'read', 'write', 'glob', 'grep', 'web_fetch', 'web_search'] as const;

const AgentToolConfigParams = z
  .object({
    name: z.enum(AGENT_TOOL_NAMES),
    type: z.enum(AGENT_TOOL_NAMES).optional(),
    enabled: z.boolean().nullable().optional(),
    permission_policy: PermissionPolicy.nullable().optional(),
    // web_fetch / web_search carry extra options; kept verbatim.
    allowed_domains: z.array(z.string().max(LIMITS.domain)).max(LIMITS.domainEntries).optional(),
    blocked_domains: z.array(z.string().max(LIMITS.domain)).max(LIMITS.domainEntries).optional(),
    max_content_tokens: z.number().int().positive().nullable().optional(),
    url_sources: jsonAtMost(z.unknown(), LIMITS.toolOptionBytes).optional(),
    user_location: jsonAtMost(z.unknown(), LIMITS.toolOptionBytes).optional(),
  })
  .strict();

const ToolsetDefaultConfigParams = z.strictObject({
  enabled: z.boolean().nullable().optional(),
  permission_policy: PermissionPolicy.nullable().optional(),
});

const AgentToolsetParams = z.strictObject({
  type: z.literal('agent_toolset_20260401'),
  configs: z.array(AgentToolConfigParams).max(AGENT_TOOL_NAMES.length).optional(),
  default_config: ToolsetDefaultConfigParams.nullable().optional(),
});

const McpToolsetParams = z.strictObject({
  type: z.literal('mcp_toolset'),
  mcp_server_name: z.string().min(1).max(LIMITS.mcpServerName),
  configs: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(LIMITS.toolName),
        enabled: z.boolean().nullable().optional(),
        permission_policy: PermissionPolicy.nullable().optional(),
      }),
    )
    .max(LIMITS.mcpToolConfigs)
    .optional(),
  default_config: ToolsetDefaultConfigParams.nullable().optional(),
});

const CustomToolParams = z.strictObject({
  type: z.literal('custom'),
  name: z
    .string()
    .min(1)
    .max(LIMITS.toolName)
    .regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, _ and - only'),
  description: z.string().max(LIMITS.toolDescription),
  input_schema: jsonAtMost(
    z.looseObject({
      type: z.literal('object'),
      properties: z.record(z.string(), z.unknown()).nullable().optional(),
      required: z.array(z.string()).nullable().optional(),
    }),
    LIMITS.inputSchemaBytes,
  ),
});

export const ToolParams = z.discriminatedUnion('type', [AgentToolsetParams, McpToolsetParams, CustomToolParams]);
export type ToolParams = z.infer<typeof ToolParams>;

const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
export const ModelParams = z.union([
  z.string().min(1).max(LIMITS.modelId),
  z.strictObject({
    id: z.string().min(1).max(LIMITS.modelId),
    effort: z
      .union([z.enum(EFFORTS), z.strictObject({ type: z.enum(EFFORTS) })])
      .nullable()
      .optional(),
    inference_geo: z.string().max(LIMITS.inferenceGeo).nullable().optional(),
    speed: z.enum(['standard', 'fast']).nullable().optional(),
  }),
]);
export type ModelParams = z.infer<typeof ModelParams>;

/**
 * Where the brain may reach an MCP server, with a token in hand: `tokenUrl`'s rule, as for a session repository's
 * URL, checked on create and again before connecting (an agent stored before the rule). Null when it may be used.
 */
export function mcpServerUrlProblem(text: string): string | null {
  const checked = tokenUrl(text, 'keep the token in a vault credential for this URL');
  return 'problem' in checked ? checked.problem : null;
}

/** A URL the runtime sends a token to: an MCP server's, and (contract/vault.ts) an OAuth token endpoint. */
export const TokenBearingUrl = z
  .string()
  .max(LIMITS.url)
  .superRefine((s, ctx) => {
    const problem = mcpServerUrlProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const McpServerParams = z.strictObject({
  type: z.literal('url'),
  name: z.string().min(1).max(LIMITS.mcpServerName),
  url: TokenBearingUrl,
});
const SkillId = z.string().min(1).max(LIMITS.skillId);
const SkillVersion = z.string().max(LIMITS.skillVersion).nullable().optional();
const SkillParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('anthropic'), skill_id: SkillId, version: SkillVersion }),
  z.strictObject({ type: z.literal('custom'), skill_id: SkillId, version: SkillVersion }),
]);
const ExecutionIdentityParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('aws_role'), role_arn: z.string().min(1).max(LIMITS.roleArn) }),
  z.strictObject({ type: z.literal('service_account') }),
]);

/** Shared by agent create/update and the session's agent overrides. */
export const AgentFields = {
  name: z.string().min(1).max(LIMITS.name),
  description: z.string().max(LIMITS.description),
  system: z.string().max(LIMITS.system),
  tools: z.array(ToolParams).max(LIMITS.tools),
  mcp_servers: z.array(McpServerParams).max(LIMITS.mcpServers),
  skills: z.array(SkillParams).max(LIMITS.skills),
};

export const AgentCreateParams = z.strictObject({
  model: ModelParams,
  name: AgentFields.name,
  description: AgentFields.description.nullable().optional(),
  execution_identity: ExecutionIdentityParams.nullable().optional(),
  mcp_servers: AgentFields.mcp_servers.optional(),
  metadata: Metadata.optional(),
  multiagent: MultiagentParams.nullable().optional(),
  skills: AgentFields.skills.optional(),
  system: AgentFields.system.nullable().optional(),
  tools: AgentFields.tools.optional(),
});
export type AgentCreateParams = z.infer<typeof AgentCreateParams>;

export const AgentUpdateParams = z.strictObject({
  description: AgentFields.description.nullable().optional(),
  execution_identity: ExecutionIdentityParams.nullable().optional(),
  mcp_servers: AgentFields.mcp_servers.nullable().optional(),
  metadata: MetadataPatch.nullable().optional(),
  model: ModelParams.optional(),
  multiagent: MultiagentParams.nullable().optional(),
  name: AgentFields.name.optional(),
  skills: AgentFields.skills.nullable().optional(),
  system: AgentFields.system.nullable().optional(),
  tools: AgentFields.tools.nullable().optional(),
  version: z.number().int().min(1).optional(),
});
export type AgentUpdateParams = z.infer<typeof AgentUpdateParams>;

// ---- the stored resource (BetaManagedAgentsAgent) ----

export type Effort = (typeof EFFORTS)[number];
export type Speed = 'standard' | 'fast';

/** A stored agent's model (BetaManagedAgentsModelConfig). `effort` and `speed` are always present. */
export interface ModelConfig {
  id: string;
  effort: { type: Effort };
  inference_geo?: string;
  speed: Speed;
}

export type ToolResource =
  | {
      type: 'agent_toolset_20260401';
      configs: Array<Record<string, unknown> & { name: string; type: string; enabled: boolean; permission_policy: PermissionPolicy }>;
      default_config: { enabled: boolean; permission_policy: PermissionPolicy };
    }
  | {
      type: 'mcp_toolset';
      mcp_server_name: string;
      configs: Array<{ name: string; enabled: boolean; permission_policy: PermissionPolicy }>;
      default_config: { enabled: boolean; permission_policy: PermissionPolicy };
    }
  | { type: 'custom'; name: string; description: string; input_schema: Record<string, unknown> };

/** The agent definition a session runs: everything but identity and bookkeeping. */
export interface AgentDefinition {
  name: string;
  description: string | null;
  model: ModelConfig;
  system: string | null;
  tools: ToolResource[];
  mcp_servers: Array<{ type: 'url'; name: string; url: string }>;
  skills: Array<{ type: 'anthropic' | 'custom'; skill_id: string; version: string }>;
  execution_identity: { type: 'service_account' } | { type: 'aws_role'; role_arn: string };
  /** Resolved by the agents resource (contract/multiagent.ts): every roster entry pinned to a version. */
  multiagent: Multiagent | null;
}

export interface Agent extends AgentDefinition {
  type: 'agent';
  id: string;
  version: number;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

/**
 * The effort a model runs at when none is given, resolved when the agent is saved ("always present; resolved to
 * the per-model default at save time"). The Messages API's default is `high` for every model that takes an
 * effort, and leaving effort out is the same as `high`; a model with another default is listed here.
 */
export function defaultEffort(_modelId: string): Effort {
  return 'high';
}

/** A model as created: an effort left out (or null) is the model's default, a speed left out `standard`. */
function normalizeModel(model: ModelParams): ModelConfig {
  if (typeof model === 'string') return modelConfig(model, defaultEffort(model));
  return modelConfig(model.id, model.effort ? effortLevel(model.effort) : defaultEffort(model.id), model.inference_geo, model.speed);
}

/**
 * A model as an update replaces it: whole ("omitting inference_geo clears it", speed back to `standard`), except
 * `effort`, which "on update, omitting it leaves the stored value unchanged". An effort of null, which the SDK
 * leaves unstated, resolves the new model's default, as on create. A session's model override applies the same way.
 */
export function updateModel(current: ModelConfig, model: ModelParams): ModelConfig {
  const p = typeof model === 'string' ? { id: model } : model;
  const effort = p.effort === undefined ? current.effort.type : p.effort === null ? defaultEffort(p.id) : effortLevel(p.effort);
  return modelConfig(p.id, effort, p.inference_geo, p.speed);
}

/** Fields in the order responses show them. */
function modelConfig(id: string, effort: Effort, inferenceGeo?: string | null, speed?: Speed | null): ModelConfig {
  return { id, effort: { type: effort }, ...(inferenceGeo ? { inference_geo: inferenceGeo } : {}), speed: speed ?? 'standard' };
}

function effortLevel(effort: Effort | { type: Effort }): Effort {
  return typeof effort === 'string' ? effort : effort.type;
}

// Agent toolset tools run unattended unless configured otherwise; MCP tools ask first (third-party code).
const ALWAYS_ALLOW: PermissionPolicy = { type: 'always_allow' };
const ALWAYS_ASK: PermissionPolicy = { type: 'always_ask' };

export function normalizeTools(tools: ToolParams[]): ToolResource[] {
  return tools.map((tool): ToolResource => {
    switch (tool.type) {
      case 'agent_toolset_20260401': {
        const default_config = {
          enabled: tool.default_config?.enabled ?? true,
          permission_policy: tool.default_config?.permission_policy ?? ALWAYS_ALLOW,
        };
        const configs = (tool.configs ?? []).map((c) => {
          const { name, enabled, permission_policy, type: _type, ...extra } = c;
          const cleaned = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
          return {
            ...cleaned,
            name,
            type: name,
            enabled: enabled ?? default_config.enabled,
            permission_policy: permission_policy ?? default_config.permission_policy,
          };
        });
        return { type: tool.type, configs, default_config };
      }
      case 'mcp_toolset': {
        const default_config = {
          enabled: tool.default_config?.enabled ?? true,
          permission_policy: tool.default_config?.permission_policy ?? ALWAYS_ASK,
        };
        const configs = (tool.configs ?? []).map((c) => ({
          name: c.name,
          enabled: c.enabled ?? default_config.enabled,
          permission_policy: c.permission_policy ?? default_config.permission_policy,
        }));
        return { type: tool.type, mcp_server_name: tool.mcp_server_name, configs, default_config };
      }
      case 'custom':
        return { type: 'custom', name: tool.name, description: tool.description, input_schema: tool.input_schema };
    }
  });
}

/** Cross-field rules the schema cannot express; returns a message naming the field, or null. */
export function checkAgentDefinition(def: Pick<AgentDefinition, 'tools' | 'mcp_servers'>): string | null {
  const serverNames = new Set<string>();
  for (const [i, s] of def.mcp_servers.entries()) {
    if (serverNames.has(s.name)) return `mcp_servers[${i}].name: duplicate server name '${s.name}'`;
    serverNames.add(s.name);
  }
  const referenced = new Set<string>();
  const toolNames = new Set<string>();
  for (const [i, t] of def.tools.entries()) {
    if (t.type === 'mcp_toolset') {
      if (!serverNames.has(t.mcp_server_name))
        return `tools[${i}].mcp_server_name: no server named '${t.mcp_server_name}' in mcp_servers`;
      referenced.add(t.mcp_server_name);
    }
    if (t.type === 'custom') {
      if (toolNames.has(t.name)) return `tools[${i}].name: duplicate tool name '${t.name}'`;
      toolNames.add(t.name);
    }
  }
  for (const [i, s] of def.mcp_servers.entries()) {
    if (!referenced.has(s.name)) return `mcp_servers[${i}]: server '${s.name}' is not referenced by any mcp_toolset in tools`;
  }
  return null;
}

export function buildDefinition(p: AgentCreateParams): AgentDefinition {
  return {
    name: p.name,
    description: p.description ?? null,
    model: normalizeModel(p.model),
    system: p.system ?? null,
    tools: normalizeTools(p.tools ?? []),
    mcp_servers: p.mcp_servers ?? [],
    skills: (p.skills ?? []).map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? 'latest' })),
    execution_identity: p.execution_identity ?? { type: 'service_account' },
    // resolved against the workspace's agents by the agents resource (resolveMultiagent)
    multiagent: null,
  };
}

/** Applies an update's "omit to preserve, null/empty to clear" rules to a definition. */
export function applyAgentUpdate(def: AgentDefinition, p: AgentUpdateParams): AgentDefinition {
  const next: AgentDefinition = { ...def };
  if (p.name !== undefined) next.name = p.name;
  if (p.description !== undefined) next.description = p.description || null;
  if (p.system !== undefined) next.system = p.system || null;
  if (p.model !== undefined) next.model = updateModel(def.model, p.model);
  if (p.tools !== undefined) next.tools = normalizeTools(p.tools ?? []);
  if (p.mcp_servers !== undefined) next.mcp_servers = p.mcp_servers ?? [];
  if (p.skills !== undefined)
    next.skills = (p.skills ?? []).map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? 'latest' }));
  if (p.execution_identity !== undefined) next.execution_identity = p.execution_identity ?? { type: 'service_account' };
  return next;
}
