// The script language of the scripted model: steps queued by a test, consumed one per
// /v1/messages request, each deciding exactly how that response behaves.
import { z } from "zod";

const nonNegativeInt = z.number().int().min(0);

/** How many consecutive requests the step answers before it leaves the queue (default 1). */
const repeat = nonNegativeInt.min(1).optional();

const TextStep = z.object({
  type: z.literal("text"),
  text: z.string(),
  repeat,
});

const ToolUseStep = z.object({
  type: z.literal("tool_use"),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()).default({}),
  /** Optional text block streamed before the tool_use block, as models often do. */
  text: z.string().optional(),
  repeat,
});

const ErrorStep = z.object({
  type: z.literal("error"),
  status: z.number().int().min(400).max(599),
  retry_after_seconds: z.number().min(0).optional(),
  message: z.string().optional(),
  repeat,
});

const CutStep = z.object({
  type: z.literal("cut"),
  /** Characters of content deltas sent before the connection is destroyed. */
  after_chars: nonNegativeInt.default(20),
  text: z.string().optional(),
  repeat,
});

const StreamErrorStep = z.object({
  type: z.literal("stream_error"),
  /** The API sends these as an SSE `error` event after a 200; non-streaming gets the HTTP error. */
  error_type: z.enum(["overloaded_error", "api_error"]).default("overloaded_error"),
  after_chars: nonNegativeInt.default(20),
  text: z.string().optional(),
  repeat,
});

const SlowFirstTokenStep = z.object({
  type: z.literal("slow_first_token"),
  delay_ms: nonNegativeInt,
  text: z.string().optional(),
  repeat,
});

const BadToolInputStep = z.object({
  type: z.literal("bad_tool_input"),
  name: z.string().min(1),
  repeat,
});

const respondingSteps = [
  TextStep,
  ToolUseStep,
  ErrorStep,
  CutStep,
  StreamErrorStep,
  SlowFirstTokenStep,
  BadToolInputStep,
] as const;

/** Any step except `delay`; `delay.then` takes one of these so delays cannot nest. */
const RespondingStepSchema = z.discriminatedUnion("type", [...respondingSteps]);

const DelayStep = z.object({
  type: z.literal("delay"),
  /** Whole-response latency: nothing, not even headers, is sent before it elapses. */
  ms: nonNegativeInt,
  /** What to answer once the delay is over; the demo reply when absent. */
  then: RespondingStepSchema.optional(),
  repeat,
});

export const ScriptStepSchema = z.discriminatedUnion("type", [...respondingSteps, DelayStep]);

export const ScriptBodySchema = z.object({ steps: z.array(ScriptStepSchema) });

/** A step as written by a test; defaults (`input`, `after_chars`, …) may be omitted. */
export type ScriptStep = z.input<typeof ScriptStepSchema>;
/** A step after validation, with defaults filled in. */
export type ParsedScriptStep = z.output<typeof ScriptStepSchema>;
export type RespondingStep = z.output<typeof RespondingStepSchema>;
