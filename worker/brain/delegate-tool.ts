// The `delegate` tool: what the primary thread of an agent with sub-agents is offered to start a sub-agent thread or
// message one it started (docs/threads.md). The brain settles its calls itself (worker/brain/threads.ts); nothing runs
// in the sandbox.
import { DELEGATE_TOOL, type ThreadAgent } from '../../contract/multiagent.ts';
import type { ResolvedTool, ToolDefinition } from './tools.ts';

export { DELEGATE_TOOL };

export function delegateDefinition(roster: readonly ThreadAgent[]): ToolDefinition {
  const agents = roster.map((a) => `- ${a.name}${a.description ? `: ${a.description}` : ''}`).join('\n');
  return {
    name: DELEGATE_TOOL,
    description:
      'Hand a task to a sub-agent. The sub-agent works in a thread of its own, with its own context and tools, and its ' +
      'final answer comes back as this tool\'s result. Messaging the same agent again continues its thread, so it ' +
      `remembers what it did before. Agents you can delegate to:\n${agents}`,
    input_schema: {
      type: 'object',
      properties: {
        agent_name: { type: 'string', enum: roster.map((a) => a.name), description: 'Which agent to hand the task to.' },
        message: { type: 'string', description: 'The task, with everything the agent needs to know: it does not see your conversation.' },
      },
      required: ['agent_name', 'message'],
      additionalProperties: false,
    },
  };
}

/** The tool as the step offers it: run by the brain, unattended. */
export function delegateTool(roster: readonly ThreadAgent[]): ResolvedTool {
  return { kind: 'agent', definition: delegateDefinition(roster), permission: { type: 'always_allow' } };
}

/** The call's input, or why it cannot be delegated (the model gets it as an error result). */
export function delegateInput(input: unknown, roster: readonly ThreadAgent[]): { agent: ThreadAgent; message: string } | string {
  const i = (input ?? {}) as { agent_name?: unknown; message?: unknown };
  const names = roster.map((a) => `'${a.name}'`).join(', ');
  if (typeof i.agent_name !== 'string') return `Invalid input for tool '${DELEGATE_TOOL}': agent_name must be a string (one of ${names}).`;
  if (typeof i.message !== 'string' || !i.message.trim()) return `Invalid input for tool '${DELEGATE_TOOL}': message must be a non-empty string.`;
  const agent = roster.find((a) => a.name === i.agent_name);
  if (!agent) return `There is no agent named '${i.agent_name}' to delegate to; the agents are ${names}.`;
  return { agent, message: i.message };
}
