// Context builder: turns the session's log (a view of it) into a Messages API request for the agent's model.
import type { SessionAgent } from '../api/schema/session.ts';
import type { SessionEvent } from '../api/schema/event.ts';

/** The event types the model's context is built from; the brain reads only these from the log. */
export const CONTEXT_EVENT_TYPES = ['user.message', 'agent.message', 'system.message'] as const;

export const DEFAULT_MAX_TOKENS = 8192;

type Block = { type: string; [k: string]: unknown };
export interface ModelMessage {
  role: 'user' | 'assistant';
  content: Block[];
}
export interface ModelRequest {
  model: string;
  max_tokens: number;
  system?: string;
  messages: ModelMessage[];
}

export function buildModelRequest(agent: SessionAgent, events: SessionEvent[]): ModelRequest {
  const messages: ModelMessage[] = [];
  const push = (role: ModelMessage['role'], blocks: Block[]) => {
    if (!blocks.length) return;
    const last = messages[messages.length - 1];
    // The Messages API wants alternating roles: consecutive inputs of one role become one turn.
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: [...blocks] });
  };
  for (const ev of events) {
    const content = Array.isArray(ev.content) ? (ev.content as Block[]) : [];
    switch (ev.type) {
      case 'user.message':
        push('user', content.filter((b) => b.type !== 'redacted'));
        break;
      case 'agent.message':
        push('assistant', content.filter((b) => b.type === 'text'));
        break;
      case 'system.message':
        push('user', content.map((b) => ({ type: 'text', text: `<system-message>${String(b.text ?? '')}</system-message>` })));
        break;
    }
  }
  const req: ModelRequest = { model: agent.model.id, max_tokens: DEFAULT_MAX_TOKENS, messages };
  if (agent.system) req.system = agent.system;
  return req;
}
