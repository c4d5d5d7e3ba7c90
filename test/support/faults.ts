// Killing a brain step at a named point, for the crash tests. The points are defined by what the step is doing
// when it dies, seen from outside the step: what it is appending, a delta it streams, a tool call the hands run.
// The kill itself happens in the test Worker (test/support/fault-worker.ts); production code knows none of this.
import type { Env } from '../../worker/env.ts';
import type { Remote } from '../../durable-objects/stubs.ts';
import type { SessionLog } from './fault-worker.ts';

export const FAULT_POINTS = [
  /** Before the append that carries `session.status_running`. */
  'before_running',
  /** After it. */
  'after_running',
  /** After the append that carries `span.model_request_start`. */
  'after_model_request_start',
  /** While the model streams: after a text delta reached live readers. */
  'mid_stream',
  /** The model's answer is complete; before the append that records it (`span.model_request_end`). */
  'after_model_response',
  /** `agent.tool_use` is in the log; before the hands run the call. */
  'after_tool_use',
  /** The hands ran the call; before `agent.tool_result` is appended. */
  'after_tool_execution',
  /** What the call wrote under a memory store's mount is saved as memories; before `agent.tool_result` is appended. */
  'after_memory_save',
  /** `agent.mcp_tool_use` is in the log; before the brain claims the call and sends it to the MCP server. */
  'after_mcp_tool_use',
  /** The MCP server answered the call; before `agent.mcp_tool_result` is appended. */
  'after_mcp_tool_call',
  /** An outcome's grader answered; before the append that records its verdict (`span.outcome_evaluation_end`). */
  'after_grader_response',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** The test Worker's entry file, for `startRuntime({ workerEntry })` (scripts/runtime.ts; Node only). */
export function faultWorkerEntry(): string {
  return decodeURIComponent(new URL('./fault-worker.ts', import.meta.url).pathname);
}

/** The points a step reaches without a sandbox (the workerd tests have none; tools are covered end to end). */
export const MODEL_FAULT_POINTS = FAULT_POINTS.filter((p) => !p.includes('tool') && !p.includes('grader') && !p.includes('memory'));

/** The points a turn with one sandbox tool call passes (MCP calls have their own). */
export const SANDBOX_FAULT_POINTS = FAULT_POINTS.filter((p) => !p.includes('mcp') && !p.includes('grader') && !p.includes('memory'));

/** The session log of the test Worker, with its fault table. */
export type FaultLogStub = Remote<Pick<SessionLog, 'injectFaults' | 'pendingFaults' | 'takeFault'>>;

export function faultLog(env: Pick<Env, 'SESSION_LOG'>, sessionId: string): FaultLogStub {
  return env.SESSION_LOG.get(env.SESSION_LOG.idFromName(sessionId)) as unknown as FaultLogStub;
}

/** Makes the session's next brain steps die once at each of `points`, in the order a step reaches them. */
export function injectFaults(env: Pick<Env, 'SESSION_LOG'>, sessionId: string, points: readonly FaultPoint[]): Promise<void> {
  return faultLog(env, sessionId).injectFaults([...points]);
}
