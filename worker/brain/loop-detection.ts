// Loop detection over the log: the same tool called with the same input LOOP_REPEATS times in a row gets one nudge
// (a system.message after the call); if the model repeats the call again after that nudge, the turn stops.
import type { NewEvent, SessionEvent } from '../../contract/events.ts';

const LOOP_REPEATS = 3;
export const LOOP_NOTICE_SOURCE = 'edgeharness.loop';

export interface LoopVerdict {
  action: 'nudge' | 'stop';
  /** The repeated call (tool name and input): a nudge names it, so it is given once per call. */
  key: string;
  message: string;
}

/** Counts how many of the latest tool calls, including the one just made (in `out`), repeat the same call. */
export function detectLoop(seen: SessionEvent[], out: NewEvent[]): LoopVerdict | null {
  const call = out.find((e) => e.type === 'agent.tool_use' || e.type === 'agent.custom_tool_use' || e.type === 'agent.mcp_tool_use');
  if (!call) return null;
  const key = `${call.name} ${JSON.stringify(call.input ?? {})}`;
  let streak = 1;
  for (let i = seen.length - 1; i >= 0; i--) {
    const e = seen[i]!;
    if (e.type !== 'agent.tool_use' && e.type !== 'agent.custom_tool_use' && e.type !== 'agent.mcp_tool_use') continue;
    if (`${e.name} ${JSON.stringify(e.input ?? {})}` !== key) break;
    streak++;
  }
  if (streak < LOOP_REPEATS) return null;
  const nudged = seen.some((e) => e.type === 'system.message' && e.source === LOOP_NOTICE_SOURCE && e.loop_key === key);
  return nudged
    ? { action: 'stop', key, message: `loop detected: '${call.name}' was called with the same input ${streak} times in a row, after a nudge; the turn is stopped` }
    : {
        action: 'nudge',
        key,
        message: `You have called '${call.name}' with the same input ${streak} times in a row. Its result will not change: try a different approach, or finish with what you have.`,
      };
}
