// The agent toolset's definitions read off the official SDK's implementations (Node only: it loads the toolset
// itself). `npm run gen:toolset` writes them to definitions.json; a test checks that file has not drifted.
import { betaAgentToolset20260401 } from '@anthropic-ai/sdk/tools/agent-toolset/node';
import type { AgentToolDefinition } from './definitions.ts';

export function definitionsFromSdk(): AgentToolDefinition[] {
  // the workdir only binds the tools' behaviour; their names, descriptions and schemas do not depend on it
  return betaAgentToolset20260401({ workdir: '/' }).map((tool) => {
    if (!('input_schema' in tool) || !('description' in tool) || typeof tool.description !== 'string') {
      throw new Error(`agent toolset: ${tool.name} has no description or input_schema`);
    }
    return { name: tool.name, description: tool.description, input_schema: tool.input_schema as AgentToolDefinition['input_schema'] };
  });
}
