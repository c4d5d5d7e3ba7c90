// The tools a session's agent may call: which are offered to the model, how each is permitted, and how its
// input is checked against its schema before anything runs.
import { z } from 'zod';
import type { PermissionPolicy, ToolResource } from '../../contract/agent.ts';
import type { SessionAgent } from '../../contract/session.ts';
import { AGENT_TOOL_DEFINITIONS } from '../../sandbox/toolset/definitions.ts';

export interface ToolDefinition {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

/** Where a call goes: the sandbox (agent toolset), back to the client (custom tools), or to an MCP server. */
export interface ResolvedTool {
  kind: 'agent' | 'custom' | 'mcp';
  definition: ToolDefinition;
  permission: PermissionPolicy;
  /** The MCP server providing the tool (kind `mcp`). */
  server?: string;
}

/** An MCP server an agent's `mcp_toolset` uses, with that toolset's configuration. */
export interface McpServerUse {
  name: string;
  url: string;
  toolset: Extract<ToolResource, { type: 'mcp_toolset' }>;
}

/** The sandbox runs these; web_fetch/web_search are server tools this runtime does not offer yet. */
const SANDBOX_TOOLS = new Set(['bash', 'read', 'write', 'edit', 'glob', 'grep']);

export function resolveTools(agent: SessionAgent): Map<string, ResolvedTool> {
  const tools = new Map<string, ResolvedTool>();
  for (const t of agent.tools as ToolResource[]) {
    if (t.type === 'agent_toolset_20260401') {
      for (const def of AGENT_TOOL_DEFINITIONS) {
        if (!SANDBOX_TOOLS.has(def.name)) continue;
        const config = t.configs.find((c) => c.name === def.name);
        const enabled = config?.enabled ?? t.default_config.enabled;
        if (!enabled) continue;
        tools.set(def.name, {
          kind: 'agent',
          definition: def,
          permission: config?.permission_policy ?? t.default_config.permission_policy,
        });
      }
    } else if (t.type === 'custom') {
      tools.set(t.name, {
        kind: 'custom',
        definition: { name: t.name, description: t.description, input_schema: t.input_schema },
        permission: { type: 'always_allow' },
      });
    }
    // mcp_toolset: its tools are known only once the server lists them (addMcpTools).
  }
  return tools;
}

/** The MCP servers the agent's `mcp_toolset`s use; an agent without one has none, and no server is contacted. */
export function mcpServersUsed(agent: SessionAgent): McpServerUse[] {
  const out: McpServerUse[] = [];
  for (const t of agent.tools as ToolResource[]) {
    if (t.type !== 'mcp_toolset') continue;
    const server = agent.mcp_servers.find((s) => s.name === t.mcp_server_name);
    if (server) out.push({ name: server.name, url: server.url, toolset: t });
  }
  return out;
}

/** What the Messages API accepts as a tool name. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

/**
 * Adds the tools an MCP server listed, as its toolset enables and permits them (`configs` by tool name, then
 * `default_config`). The model sees each under its own MCP name, as `agent.mcp_tool_use` and the toolset's configs
 * name it. A name another tool already has (the agent toolset, a custom tool, an earlier server) or that the
 * Messages API would refuse is left out; the names left out are returned.
 */
export function addMcpTools(tools: Map<string, ResolvedTool>, use: McpServerUse, listed: Array<{ name: string; description: string; inputSchema: Record<string, unknown> }>): string[] {
  const skipped: string[] = [];
  for (const t of listed) {
    const config = use.toolset.configs.find((c) => c.name === t.name);
    if (!(config?.enabled ?? use.toolset.default_config.enabled)) continue;
    if (tools.has(t.name) || !TOOL_NAME.test(t.name)) {
      skipped.push(t.name);
      continue;
    }
    tools.set(t.name, {
      kind: 'mcp',
      server: use.name,
      definition: { name: t.name, description: t.description, input_schema: { type: 'object', ...t.inputSchema } },
      permission: config?.permission_policy ?? use.toolset.default_config.permission_policy,
    });
  }
  return skipped;
}

const validators = new Map<string, z.ZodType | null>();

/**
 * Checks a call's input against the tool's JSON schema. Returns a message naming the field
 * (`input.command: expected string, received number`), or null when the input is acceptable.
 */
export function checkToolInput(tool: ToolDefinition, input: unknown): string | null {
  const key = `${tool.name}:${JSON.stringify(tool.input_schema)}`;
  let schema = validators.get(key);
  if (schema === undefined) {
    try {
      schema = z.fromJSONSchema(tool.input_schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      // A schema zod cannot express is not checked here; the tool itself still rejects bad input.
      schema = null;
    }
    validators.set(key, schema);
  }
  if (!schema) return null;
  const parsed = schema.safeParse(input);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length ? `input.${issue.path.map(String).join('.')}` : 'input';
  const what = issue.code === 'invalid_type' && issue.input === undefined ? 'required field is missing' : issue.message;
  return `${where}: ${what}`;
}
