// Compaction: when the context would pass the session's threshold, the older part of the conversation is
// summarised into a structured summary; later contexts are [static prefix][summary][events after the cut].
// The log keeps every event: compaction writes one `agent.thread_context_compacted` event and deletes nothing.
import type { EventOf, SessionEvent } from '../../contract/events.ts';
import type { SessionAgent } from '../../contract/session.ts';
import type { ModelRequest } from './context-builder.ts';
import type { ModelPort, ModelUsage } from './model-client.ts';
import { evaluationFeedback, outcomeBrief } from './outcomes.ts';

/** Without `compaction.trigger_tokens`: 80% of a 200k-token window. */
export const DEFAULT_TRIGGER_TOKENS = 160_000;
/** An idle session this close to the threshold is compacted in its idle time. */
export const IDLE_COMPACTION_AT = 0.8;
/** More compactions than this in one session is reported as compaction_limit_reached. */
export const MAX_COMPACTIONS = 50;

const SUMMARY_MAX_TOKENS = 2048;
const TRIM_CHARS = 300;
/** Per item in the transcript the summariser reads: whole messages, long tool output cut. */
const TRANSCRIPT_ITEM_CHARS = 4000;

/** A cheap, deterministic size estimate (about four characters a token), the same for every turn. */
export function estimateTokens(req: ModelRequest): number {
  return Math.ceil(JSON.stringify(req).length / 4);
}

export function latestCompaction(events: SessionEvent[]): EventOf<'agent.thread_context_compacted'> | undefined {
  return events.findLast((e) => e.type === 'agent.thread_context_compacted');
}

/**
 * What to summarise: everything after the previous cut up to (not including) the latest user turn (a message, or
 * an outcome, whose task must stay in the agent's words while it works on it), which stays verbatim with all that
 * follows it, so the kept part starts a user turn and no tool call is separated from its result. Null when there
 * is nothing older to fold in.
 */
export function compactionSpan(events: SessionEvent[]): { fold: SessionEvent[]; through: SessionEvent } | null {
  const previous = latestCompaction(events);
  const start = previous ? events.findIndex((e) => e.id === previous.compacted_through) + 1 : 0;
  let keepFrom = -1;
  for (let i = events.length - 1; i >= start; i--) {
    const type = events[i]!.type;
    if (type === 'user.message' || type === 'user.define_outcome') {
      keepFrom = i;
      break;
    }
  }
  const fold = events.slice(start, keepFrom).filter((e) => e.type !== 'agent.thread_context_compacted');
  if (keepFrom <= start || fold.length === 0) return null;
  return { fold, through: events[keepFrom - 1]! };
}

export interface Summary {
  text: string;
  method: 'model' | 'trim';
  usage: ModelUsage | null;
  error?: string;
}

const INSTRUCTIONS =
  'You compact the history of an agent session so the agent can continue without it. Write a structured ' +
  'summary with these headings: Goal; Key facts and constraints; Decisions made; Work done (tools used and ' +
  'what they showed); Open items and next steps. Keep names, numbers, paths and identifiers exact. Be concise.';

/** Asks the agent's model for the summary; if that fails, falls back to a mechanical digest (never fails). */
export async function summarize(model: ModelPort, agent: SessionAgent, previous: string | null, fold: SessionEvent[]): Promise<Summary> {
  const transcript = render(previous, fold, TRANSCRIPT_ITEM_CHARS, true);
  const request: ModelRequest = {
    model: agent.model.id,
    max_tokens: SUMMARY_MAX_TOKENS,
    system: [{ type: 'text', text: INSTRUCTIONS }],
    messages: [{ role: 'user', content: [{ type: 'text', text: `<session-history>\n${transcript}\n</session-history>` }] }],
  };
  try {
    const turn = await model.stream(request, () => {});
    const text = turn.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n').trim();
    if (!text) throw new Error('the model returned an empty summary');
    return { text, method: 'model', usage: turn.usage };
  } catch (err) {
    // Trimming keeps the shape of the conversation and drops the bulk (tool output, long messages).
    return { text: render(previous, fold, TRIM_CHARS, false), method: 'trim', usage: null, error: (err as Error).message };
  }
}

function render(previous: string | null, events: SessionEvent[], limit: number, withToolOutput: boolean): string {
  const cut = (s: string) => (s.length > limit ? `${s.slice(0, limit)}… [${s.length - limit} more characters]` : s);
  const text = (ev: SessionEvent) =>
    ('content' in ev && ev.content ? ev.content : []).map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join(' ');
  const lines: string[] = [];
  if (previous) lines.push(`Earlier summary:\n${previous}`);
  for (const ev of events) {
    switch (ev.type) {
      case 'user.message':
        lines.push(`User: ${cut(text(ev))}`);
        break;
      case 'agent.message':
        lines.push(`Agent: ${cut(text(ev))}`);
        break;
      case 'system.message':
        lines.push(`System: ${cut(text(ev))}`);
        break;
      case 'user.define_outcome':
        lines.push(`User: ${cut(outcomeBrief(ev))}`);
        break;
      case 'span.outcome_evaluation_end':
        lines.push(`Grader: ${cut(evaluationFeedback(ev))}`);
        break;
      case 'agent.tool_use':
      case 'agent.custom_tool_use':
      case 'agent.mcp_tool_use':
        lines.push(`Agent called ${ev.name}(${cut(JSON.stringify(ev.input ?? {}))})`);
        break;
      case 'agent.tool_result':
      case 'user.custom_tool_result':
      case 'agent.mcp_tool_result':
        lines.push(`Tool result${ev.is_error ? ' (error)' : ''}: ${withToolOutput ? cut(text(ev)) : '[omitted]'}`);
        break;
    }
  }
  return lines.join('\n');
}
