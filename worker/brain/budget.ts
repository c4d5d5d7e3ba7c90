// Budgets and limits: the official USD `budget` (list prices) and the `limits` extension, measured from the
// log and the session's usage. At 80% of any of them the model gets one wrap-up notice; at 100% the loop stops.
import type { BudgetLimit, SessionEvent } from '../../contract/events.ts';
import type { StepView } from '../../durable-objects/session-log.ts';

export const BUDGET_NOTICE_SOURCE = 'edgeharness.budget';
const NOTICE_AT = 0.8;

type View = Pick<StepView, 'spec' | 'usage' | 'spentUsd'>;

interface Measure {
  /** What the session's idle event names when this one stops the loop. */
  limit: BudgetLimit;
  name: string;
  used: number;
  max: number;
  unit: string;
}

function measures(view: View, seen: SessionEvent[], now: number): Measure[] {
  const out: Measure[] = [];
  const { usage } = view;
  const { limits, budget, createdAt } = view.spec;
  if (budget) out.push({ limit: 'budget', name: 'budget (max_list_cost)', used: view.spentUsd, max: Number(budget.max_list_cost.amount), unit: 'USD' });
  if (limits.max_model_requests !== undefined)
    out.push({ limit: 'max_model_requests', name: 'max_model_requests', used: seen.filter(isModelRequest).length, max: limits.max_model_requests, unit: 'requests' });
  if (limits.max_tokens !== undefined) {
    const tokens = usage.input_tokens + usage.output_tokens + usage.cache_read_input_tokens + usage.cache_creation.ephemeral_5m_input_tokens + usage.cache_creation.ephemeral_1h_input_tokens;
    out.push({ limit: 'max_tokens', name: 'max_tokens', used: tokens, max: limits.max_tokens, unit: 'tokens' });
  }
  if (limits.max_wall_seconds !== undefined)
    out.push({ limit: 'max_wall_seconds', name: 'max_wall_seconds', used: (now - Date.parse(createdAt)) / 1000, max: limits.max_wall_seconds, unit: 'seconds' });
  if (limits.max_tool_calls !== undefined)
    out.push({ limit: 'max_tool_calls', name: 'max_tool_calls', used: seen.filter(isToolResult).length, max: limits.max_tool_calls, unit: 'tool calls' });
  return out;
}

/** Which limit stops the loop now (if any), and the one-time wrap-up notice once one passes 80%. */
export function assessBudget(view: View, seen: SessionEvent[], now: number): { exhausted: BudgetLimit | null; notice: string | null } {
  const all = measures(view, seen, now);
  // Tool calls are stopped where they would run; reaching the count alone still allows a final answer.
  const exhausted = all.find((m) => m.limit !== 'max_tool_calls' && m.used >= m.max);
  const near = all.find((m) => m.max > 0 && m.used / m.max >= NOTICE_AT);
  const notice = near
    ? `Budget notice: ${Math.floor((near.used / near.max) * 100)}% of this session's ${near.name} is used (${fmt(near.used)} of ${fmt(near.max)} ${near.unit}). ` +
      'Wrap up now: finish with what you have, summarise the result and any unfinished steps, and avoid further tool calls.'
    : null;
  return { exhausted: exhausted?.limit ?? null, notice };
}

/** How many more tool runs the session's max_tool_calls allows. */
export function toolCallsLeft(view: View, seen: SessionEvent[]): number {
  const max = view.spec.limits.max_tool_calls;
  if (max === undefined) return Number.POSITIVE_INFINITY;
  return max - seen.filter(isToolResult).length;
}

/** A request of the agent's, or a grader's that was answered (an outcome evaluation's end): both are model requests. */
function isModelRequest(e: SessionEvent): boolean {
  return e.type === 'span.model_request_start' || (e.type === 'span.outcome_evaluation_end' && e.usage.input_tokens + e.usage.output_tokens > 0);
}

/** Answered tool calls of the agent toolset and of MCP servers: what max_tool_calls counts. */
function isToolResult(e: SessionEvent): boolean {
  return e.type === 'agent.tool_result' || e.type === 'agent.mcp_tool_result';
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(4);
}
