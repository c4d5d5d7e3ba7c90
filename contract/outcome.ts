// Outcomes (`user.define_outcome`): their limits and defaults as the SDK states them, and the session's
// `outcome_evaluations` list folded from the log's outcome events, so the log and the brain read one definition.
import type * as OfficialSessions from '@anthropic-ai/sdk/resources/beta/sessions/sessions';
import type { Assignable } from './common.ts';
import type { EventOf, SessionEvent } from './events.ts';

/** official: "Evaluate-then-revise cycles before giving up. Default 3, max 20." */
export const DEFAULT_MAX_ITERATIONS = 3;
export const MAX_ITERATIONS = 20;
/** official: a text rubric is "Maximum 262144 characters"; a file rubric is resolved to its text and held to the same. */
export const MAX_RUBRIC_CHARS = 262_144;

/** A verdict that ends the outcome: no further evaluation follows (official `span.outcome_evaluation_end.result`). */
export const TERMINAL_RESULTS = ['satisfied', 'max_iterations_reached', 'failed', 'interrupted'] as const;
export type EvaluationResult = (typeof TERMINAL_RESULTS)[number] | 'needs_revision';

/** The event types an outcome's state is derived from. */
export const OUTCOME_EVENT_TYPES = ['user.define_outcome', 'span.outcome_evaluation_start', 'span.outcome_evaluation_end'] as const;

export interface OutcomeEvaluation {
  type: 'outcome_evaluation';
  outcome_id: string;
  description: string;
  /** `pending`, `running`, `evaluating`, or a terminal result. */
  result: 'pending' | 'running' | 'evaluating' | (typeof TERMINAL_RESULTS)[number];
  iteration: number;
  explanation: string | null;
  completed_at: string | null;
}
export type OutcomeEvaluationIsOfficial = Assignable<OutcomeEvaluation, OfficialSessions.BetaManagedAgentsOutcomeEvaluationResource>;

export function isTerminal(result: string): boolean {
  return (TERMINAL_RESULTS as readonly string[]).includes(result);
}

export function maxIterations(outcome: EventOf<'user.define_outcome'>): number {
  return outcome.max_iterations ?? DEFAULT_MAX_ITERATIONS;
}

/**
 * One entry per `user.define_outcome`, in the order they were sent. `working` says whether the session is running
 * now: an outcome nobody has evaluated yet is `running` while the agent works on it, `pending` otherwise.
 */
export function outcomeEvaluations(events: readonly SessionEvent[], working: boolean): OutcomeEvaluation[] {
  const out = new Map<string, OutcomeEvaluation>();
  for (const e of events) {
    if (e.type === 'user.define_outcome') {
      out.set(e.outcome_id, {
        type: 'outcome_evaluation',
        outcome_id: e.outcome_id,
        description: e.description,
        result: working ? 'running' : 'pending',
        iteration: 0,
        explanation: null,
        completed_at: null,
      });
      continue;
    }
    if (e.type !== 'span.outcome_evaluation_start' && e.type !== 'span.outcome_evaluation_end') continue;
    const o = out.get(e.outcome_id);
    if (!o || isTerminal(o.result)) continue;
    if (e.type === 'span.outcome_evaluation_start') {
      o.result = 'evaluating';
      o.iteration = e.iteration;
    } else if (e.result === 'needs_revision') {
      o.result = 'running';
      o.iteration = e.iteration + 1;
      o.explanation = e.explanation;
    } else {
      o.result = e.result as OutcomeEvaluation['result'];
      o.iteration = e.iteration;
      o.explanation = e.explanation;
      o.completed_at = e.processed_at;
    }
  }
  return [...out.values()];
}

/** The outcome the agent is working toward: the newest one defined that has not reached a terminal result. */
export function activeOutcome(events: readonly SessionEvent[]): EventOf<'user.define_outcome'> | null {
  const done = new Set<string>();
  for (const e of events) if (e.type === 'span.outcome_evaluation_end' && isTerminal(e.result)) done.add(e.outcome_id);
  const last = events.findLast((e): e is EventOf<'user.define_outcome'> => e.type === 'user.define_outcome');
  return last && !done.has(last.outcome_id) ? last : null;
}

/** The evaluation that was started and has no end yet (a grader that has not answered, or a brain that died grading). */
export function openEvaluation(events: readonly SessionEvent[]): EventOf<'span.outcome_evaluation_start'> | null {
  const ended = new Set<string>();
  for (const e of events) if (e.type === 'span.outcome_evaluation_end') ended.add(e.outcome_evaluation_start_id);
  const last = events.findLast((e): e is EventOf<'span.outcome_evaluation_start'> => e.type === 'span.outcome_evaluation_start');
  return last && !ended.has(last.id) ? last : null;
}

/** How many evaluations of `outcomeId` have ended: the next one's 0-indexed iteration. */
export function evaluationsEnded(events: readonly SessionEvent[], outcomeId: string): number {
  return events.filter((e) => e.type === 'span.outcome_evaluation_end' && e.outcome_id === outcomeId).length;
}
