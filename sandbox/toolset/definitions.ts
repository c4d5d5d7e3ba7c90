// The agent toolset's tools (bash, read, write, edit, glob, grep) as the model is offered them. Generated from the
// official SDK by `npm run gen:toolset` into definitions.json, because the Worker cannot load the SDK's Node-only
// toolset; the sandbox runs the SDK's own implementations of exactly these.
import definitions from './definitions.json' with { type: 'json' };

export interface AgentToolDefinition {
  name: string;
  description: string;
  input_schema: { type: 'object'; properties?: Record<string, unknown>; required?: string[] };
}

export const AGENT_TOOL_DEFINITIONS: readonly AgentToolDefinition[] = definitions as AgentToolDefinition[];
