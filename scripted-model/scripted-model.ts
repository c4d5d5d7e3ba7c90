// A deterministic Anthropic Messages API server over web-standard Request/Response: the
// stand-in model for `npm start` without an API key, and the fault-injecting test bench.
//
// The /_scripted/* control routes (the request log, the script) exist only with `controlRoutes: true`,
// which test fixtures set: the log holds every session's prompts, and under `npm start` a sandbox
// that could reach the model must not be able to read them.
//
// What decides a /v1/messages response, first match wins:
//   1. The next queued ScriptStep (see script-steps.ts), from enqueue() or POST /_scripted/script.
//   2. A fault directive in the last user message that has not yet fired its N times for this
//      exact `messages` array (keyed by its SHA-256), so a retry of the same request succeeds.
//   3. A content directive (`tool:` or `reply:`) in the last user message.
//   4. The demo reply (demo-reply.ts), or a tool-result acknowledgement.
//
// Directive grammar (inside the text blocks of the last user message; anything that does not
// parse is left as ordinary text):
//   [[fault:STATUS (retry-after=SECONDS)? (xN)?]]  HTTP error: 429 rate_limit_error (+ retry-after
//                                                   header), 529 overloaded_error, 500 api_error, …
//   [[fault:cut (after=CHARS)? (xN)?]]             stream CHARS (default 20) content characters,
//                                                   then destroy the connection, no message_stop
//   [[fault:stream-error (after=CHARS)? (xN)?]]    same, but end with an SSE `error` event
//                                                   (overloaded_error) as the API does mid-stream
//   [[slow-first-token MS (xN)?]]                  headers at once, first event after MS
//   [[bad-tool-input:NAME (xN)?]]                  tool_use of NAME whose input breaks its schema
//   [[tool:NAME JSON-OBJECT?]]                     tool_use of NAME with that input (always)
//   [[reply:TEXT]]                                 answer exactly TEXT (always; TEXT has no "]]")
//   [[delegate:AGENT_NAME:MESSAGE]]                tool_use of edgeharness's `delegate` tool: hand MESSAGE to
//                                                   the sub-agent AGENT_NAME (docs/threads.md). MESSAGE may hold
//                                                   directives for the sub-agent's own model requests
//                                                   (`[[delegate:helper:run it [[tool:bash {"command":"ls"}]]]]`):
//                                                   it closes at its own "]]", past balanced inner ones
//   [[delay MS]]                                   whole-response latency (always)
//   [[grade:VERDICT]]                              answer as an outcome grader: the JSON object
//                                                   {"verdict", "explanation"} with VERDICT satisfied,
//                                                   needs_revision or failed; `unparseable` answers
//                                                   prose instead; `until=WORD` is satisfied once WORD
//                                                   appears elsewhere in the message (the agent's work),
//                                                   needs_revision until then (grader-verdicts.ts).
//                                                   Put it in the rubric; it wins over reply/tool.
// `xN` (default x1) is how many identical requests the fault fails before it lets one through.
// Faults deliver the directive content when they carry content (cut, slow-first-token), so
// `[[fault:cut]] [[reply:hello there]]` cuts "hello there" once and then answers it whole.
//
// Determinism: content depends only on the request and the script. Ids (msg_, toolu_, req_)
// are hashes of the request and its sequence number in this instance, so they are unique
// per response and identical across runs that send the same requests in the same order.
import { Hono } from "hono";
import type { z } from "zod";
import type { StopReason, Usage } from "@anthropic-ai/sdk/resources/messages";
import { demoReply } from "./demo-reply.ts";
import { parseDirectives } from "./directives.ts";
import type { DirectiveContent, Directives } from "./directives.ts";
import {
  CountTokensRequestSchema,
  formatPath,
  MessagesRequestSchema,
  textOf,
} from "./messages-request.ts";
import type { MessagesRequest } from "./messages-request.ts";
import {
  countBreakpoints,
  countInputTokens,
  estimateTokens,
  MAX_CACHE_BREAKPOINTS,
  PromptCache,
  sha256Hex,
} from "./prompt-cache.ts";
import type { InputUsage } from "./prompt-cache.ts";
import { violatingInput } from "./schema-violation.ts";
import { ScriptBodySchema, ScriptStepSchema } from "./script-steps.ts";
import type { ParsedScriptStep, RespondingStep, ScriptStep } from "./script-steps.ts";
import { buildMessage, errorEnvelope, errorResponse, sseFrame, toUsage } from "./wire-format.ts";
import type { ApiErrorType, OutputBlock } from "./wire-format.ts";

export interface ScriptedModelOptions {
  /** Steps queued before the first request. */
  steps?: ScriptStep[];
  /** Clock for prompt-cache lifetimes (ms); tests pass their own to expire entries. */
  now?: () => number;
  /** Pause between streamed deltas, so a demo visibly streams; 0 (default) sends them back to back. */
  streamChunkDelayMs?: number;
  /** Oldest recorded requests are dropped beyond this many (default 200): bodies grow with the conversation, and benchmarks send thousands. */
  maxRecordedRequests?: number;
  /** Prefixes shorter than this many tokens are not cached (default 0; the API's minimum is ~1024). */
  minCacheableTokens?: number;
  /** When set, requests must carry it as `x-api-key` (or a Bearer token), else 401. */
  apiKey?: string;
  /** Serve /_scripted/requests, /_scripted/reset and /_scripted/script (default false: they answer 404). For tests only. */
  controlRoutes?: boolean;
}

/** What the model was sent and what it answered, for tests to inspect. */
export interface RecordedRequest {
  request_id: string;
  /** Wall-clock receipt time (ISO 8601); recorded, never part of a response. */
  received_at: string;
  method: string;
  path: string;
  /** Headers of interest: anthropic-*, x-stainless-*, x-api-key, authorization, user-agent, content-type. */
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** HTTP status sent; null while the response is still being decided. */
  status: number | null;
  decided_by: "script" | "directive" | "demo" | "validation" | null;
  /** One line on what the model did: `text`, `tool_use bash`, `error 429`, `cut after 20 chars`, … */
  outcome: string | null;
  /** The usage the model reported (message_start + message_delta); null for errors. */
  usage: Usage | null;
}

export interface ScriptedModel {
  fetch(request: Request): Promise<Response>;
  /** Live list, oldest first; cleared in place by reset(). */
  readonly requests: RecordedRequest[];
  /** Forgets requests, queued steps, fired directives, the prompt cache and the id sequence. */
  reset(): void;
  enqueue(...steps: ScriptStep[]): void;
}

type Content = { blocks: OutputBlock[]; stopReason: StopReason };

type Interruption =
  | { kind: "cut"; afterChars: number }
  | { kind: "stream_error"; afterChars: number; errorType: ApiErrorType };

type Plan =
  | {
      kind: "message";
      content: Content;
      firstTokenDelayMs: number;
      interruption: Interruption | undefined;
      outcome: string;
    }
  | { kind: "error"; status: number; message: string | undefined; retryAfterSeconds: number | undefined; outcome: string };

const RECORDED_HEADERS = /^(anthropic-.*|x-stainless-.*|x-api-key|authorization|user-agent|content-type)$/;

export function createScriptedModel(options: ScriptedModelOptions = {}): ScriptedModel {
  const requests: RecordedRequest[] = [];
  const queue: { step: ParsedScriptStep; remaining: number }[] = [];
  const firedFaults = new Map<string, number>();
  const cache = new PromptCache({ now: options.now, minCacheableTokens: options.minCacheableTokens });
  const maxRecorded = options.maxRecordedRequests ?? 200;
  const chunkDelayMs = options.streamChunkDelayMs ?? 0;
  let sequence = 0;

  const enqueue = (...steps: ScriptStep[]): void => {
    for (const step of steps) {
      const parsed = ScriptStepSchema.parse(step);
      queue.push({ step: parsed, remaining: parsed.repeat ?? 1 });
    }
  };

  const takeStep = (): ParsedScriptStep | undefined => {
    const head = queue[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) queue.shift();
    return head.step;
  };

  const reset = (): void => {
    requests.length = 0;
    queue.length = 0;
    firedFaults.clear();
    cache.clear();
    sequence = 0;
  };

  const record = (request: Request, requestId: string, body: unknown): RecordedRequest => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      if (RECORDED_HEADERS.test(name)) headers[name] = value;
    });
    const entry: RecordedRequest = {
      request_id: requestId,
      received_at: new Date().toISOString(),
      method: request.method,
      path: new URL(request.url).pathname,
      headers,
      body,
      status: null,
      decided_by: null,
      outcome: null,
      usage: null,
    };
    requests.push(entry);
    if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded);
    return entry;
  };

  /** Reads and validates a body; on failure returns the 400 to send (already recorded). */
  const readBody = async <T>(request: Request, entry: RecordedRequest, schema: z.ZodType<T>): Promise<T | Response> => {
    const text = await request.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      entry.body = text;
      return refuse(entry, 400, "Request body is not valid JSON.");
    }
    entry.body = json;
    const parsed = schema.safeParse(json);
    if (!parsed.success) return refuse(entry, 400, describeIssue(parsed.error.issues[0], json));
    return parsed.data;
  };

  const refuse = (entry: RecordedRequest, status: number, message: string): Response => {
    entry.status = status;
    entry.decided_by = "validation";
    entry.outcome = `error ${status}: ${message}`;
    return errorResponse(status, message, entry.request_id);
  };

  const authorize = (request: Request, entry: RecordedRequest): Response | undefined => {
    if (options.apiKey === undefined) return undefined;
    const key = request.headers.get("x-api-key") ?? request.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
    return key === options.apiKey ? undefined : refuse(entry, 401, "invalid x-api-key");
  };

  const nextRequestId = async (): Promise<{ seq: number; requestId: string }> => {
    const seq = ++sequence;
    return { seq, requestId: `req_${(await sha256Hex(`request\u0000${seq}`)).slice(0, 24)}` };
  };

  const handleMessages = async (request: Request): Promise<Response> => {
    const { seq, requestId } = await nextRequestId();
    const entry = record(request, requestId, undefined);
    const denied = authorize(request, entry);
    if (denied) return denied;
    const body = await readBody(request, entry, MessagesRequestSchema);
    if (body instanceof Response) return body;
    const invalid = checkSemantics(body);
    if (invalid) return refuse(entry, 400, invalid);

    const messagesHash = await sha256Hex(JSON.stringify(body.messages));
    const idBase = await sha256Hex(`response\u0000${seq}\u0000${messagesHash}`);
    const ids = { message: `msg_${idBase.slice(0, 24)}`, tool: (i: number) => `toolu_${idBase.slice(24, 48)}${i > 0 ? `_${i}` : ""}` };
    const streaming = body.stream === true;

    const lastUser = body.messages.findLast((m) => m.role === "user");
    const directives = parseDirectives(lastUser ? textOf(lastUser.content) : "");
    const fallback = (): Content => directiveContent(directives.content, ids.tool) ?? textContent(demoReply(body, directives.residualText));

    let plan: Plan;
    let latencyMs = 0;
    const step = takeStep();
    if (step) {
      entry.decided_by = "script";
      if (step.type === "delay") {
        latencyMs = step.ms;
        plan = step.then ? planStep(step.then, fallback, body, ids.tool, streaming) : messagePlan(fallback());
      } else {
        plan = planStep(step, fallback, body, ids.tool, streaming);
      }
    } else {
      latencyMs = directives.delayMs;
      const fault = firstLiveFault(directives, messagesHash);
      if (fault) {
        entry.decided_by = "directive";
        plan = planStep(fault, fallback, body, ids.tool, streaming);
      } else {
        entry.decided_by = directives.content ? "directive" : "demo";
        plan = messagePlan(fallback());
      }
    }
    if (latencyMs > 0) plan.outcome = `${plan.outcome} after ${latencyMs}ms delay`;
    entry.outcome = plan.outcome;

    if (plan.kind === "error") {
      await sleep(latencyMs);
      entry.status = plan.status;
      const headers: Record<string, string> =
        plan.retryAfterSeconds === undefined ? {} : { "retry-after": String(plan.retryAfterSeconds) };
      return errorResponse(plan.status, plan.message, requestId, headers);
    }

    // Accounted on arrival, so concurrent requests see the cache in the order they came in.
    const inputUsage = await cache.account(body);
    const content = limitToMaxTokens(plan.content, body.max_tokens);
    const usage = toUsage(inputUsage, outputTokens(content.blocks));
    entry.usage = usage;
    if (content.stopReason === "max_tokens" && plan.content.stopReason !== "max_tokens") {
      entry.outcome = `${entry.outcome} (truncated at max_tokens)`;
    }
    await sleep(latencyMs);
    entry.status = 200;
    const message = { id: ids.message, requestId, model: body.model, content, usage, inputUsage };
    return streaming
      ? sseResponse(requestId, streamEvents(message, plan.firstTokenDelayMs, plan.interruption, chunkDelayMs))
      : jsonResponse(message, plan.firstTokenDelayMs, plan.interruption);
  };

  const firstLiveFault = (directives: Directives, messagesHash: string): RespondingStep | undefined => {
    for (const fault of directives.faults) {
      const key = `${messagesHash}\u0000${fault.key}`;
      const fired = firedFaults.get(key) ?? 0;
      if (fired < fault.times) {
        firedFaults.set(key, fired + 1);
        return fault.step;
      }
    }
    return undefined;
  };

  const handleCountTokens = async (request: Request): Promise<Response> => {
    const { requestId } = await nextRequestId();
    const entry = record(request, requestId, undefined);
    const denied = authorize(request, entry);
    if (denied) return denied;
    const body = await readBody(request, entry, CountTokensRequestSchema);
    if (body instanceof Response) return body;
    entry.status = 200;
    entry.decided_by = "demo";
    entry.outcome = "count_tokens";
    return Response.json({ input_tokens: countInputTokens(body) }, { headers: { "request-id": requestId } });
  };

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.post("/v1/messages", (c) => handleMessages(c.req.raw));
  app.post("/v1/messages/count_tokens", (c) => handleCountTokens(c.req.raw));
  if (options.controlRoutes) {
    app.get("/_scripted/requests", (c) => c.json({ data: requests }));
    app.post("/_scripted/reset", (c) => {
      reset();
      return c.json({ ok: true });
    });
    app.get("/_scripted/script", (c) => c.json({ data: queue.map(({ step, remaining }) => ({ ...step, repeat: remaining })) }));
    app.post("/_scripted/script", async (c) => {
      let json: unknown;
      try {
        json = await c.req.json();
      } catch {
        return errorResponse(400, "Request body is not valid JSON.", "req_scripted_control");
      }
      const parsed = ScriptBodySchema.safeParse(json);
      if (!parsed.success) {
        return errorResponse(400, describeIssue(parsed.error.issues[0], json), "req_scripted_control");
      }
      for (const step of parsed.data.steps) queue.push({ step, remaining: step.repeat ?? 1 });
      return c.json({ queued: queue.length });
    });
  }
  app.notFound((c) =>
    errorResponse(404, `${c.req.method} ${new URL(c.req.url).pathname} is not served by the scripted model.`, "req_scripted_not_found"),
  );
  app.onError((error) => errorResponse(500, `Scripted model failed: ${error.message}`, "req_scripted_internal"));

  for (const step of options.steps ?? []) enqueue(step);

  return {
    fetch: async (request: Request) => app.fetch(request),
    requests,
    reset,
    enqueue,
  };

  /** Turns one step into a plan; content-less steps deliver `fallback` (directive or demo). */
  function planStep(
    step: RespondingStep,
    fallback: () => Content,
    body: MessagesRequest,
    toolId: (i: number) => string,
    streaming: boolean,
  ): Plan {
    const contentOr = (text: string | undefined): Content => (text === undefined ? fallback() : textContent(text));
    switch (step.type) {
      case "text":
        return messagePlan(textContent(step.text));
      case "tool_use": {
        const blocks: OutputBlock[] = step.text === undefined ? [] : [{ type: "text", text: step.text }];
        blocks.push({ type: "tool_use", id: toolId(0), name: step.name, input: step.input });
        return messagePlan({ blocks, stopReason: "tool_use" });
      }
      case "bad_tool_input": {
        const { input, violation } = violatingInput(step.name, body.tools);
        const blocks: OutputBlock[] = [{ type: "tool_use", id: toolId(0), name: step.name, input }];
        return messagePlan({ blocks, stopReason: "tool_use" }, `bad_tool_input ${step.name}: ${violation}`);
      }
      case "error":
        return {
          kind: "error",
          status: step.status,
          message: step.message,
          retryAfterSeconds: step.retry_after_seconds,
          outcome: `error ${step.status}`,
        };
      case "slow_first_token":
        return { ...messagePlan(contentOr(step.text)), firstTokenDelayMs: step.delay_ms, outcome: `slow_first_token ${step.delay_ms}ms` };
      case "cut":
        return {
          ...messagePlan(contentOr(step.text)),
          interruption: { kind: "cut", afterChars: step.after_chars },
          outcome: `cut after ${step.after_chars} chars`,
        };
      case "stream_error": {
        // Outside a stream the API reports the same failure as an HTTP error.
        if (!streaming) {
          const status = step.error_type === "overloaded_error" ? 529 : 500;
          return { kind: "error", status, message: undefined, retryAfterSeconds: undefined, outcome: `error ${status}` };
        }
        return {
          ...messagePlan(contentOr(step.text)),
          interruption: { kind: "stream_error", afterChars: step.after_chars, errorType: step.error_type },
          outcome: `stream_error ${step.error_type} after ${step.after_chars} chars`,
        };
      }
    }
  }
}

function messagePlan(content: Content, outcome?: string): Plan & { kind: "message" } {
  const tool = content.blocks.find((b) => b.type === "tool_use");
  return {
    kind: "message",
    content,
    firstTokenDelayMs: 0,
    interruption: undefined,
    outcome: outcome ?? (tool?.type === "tool_use" ? `tool_use ${tool.name}` : "text"),
  };
}

function textContent(text: string): Content {
  return { blocks: [{ type: "text", text }], stopReason: "end_turn" };
}

function directiveContent(content: DirectiveContent | undefined, toolId: (i: number) => string): Content | undefined {
  if (!content) return undefined;
  if (content.type === "text") return textContent(content.text);
  return { blocks: [{ type: "tool_use", id: toolId(0), name: content.name, input: content.input }], stopReason: "tool_use" };
}

/** Checks the API makes beyond field shapes. Returns the message for a 400, if any. */
function checkSemantics(body: MessagesRequest): string | undefined {
  if (body.messages.length === 0) return "messages: at least one message is required";
  const breakpoints = countBreakpoints(body);
  if (breakpoints > MAX_CACHE_BREAKPOINTS) {
    return `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints}.`;
  }
  return undefined;
}

interface ZodIssueLike {
  readonly path: PropertyKey[];
  readonly message: string;
}

/** `messages[0].role: …`, or `max_tokens: Field required` when the field is absent. */
function describeIssue(issue: ZodIssueLike | undefined, body: unknown): string {
  if (!issue) return "Invalid request body.";
  const path = formatPath(issue.path);
  if (issue.path.length > 0 && valueAt(body, issue.path) === undefined) return `${path}: Field required`;
  return path ? `${path}: ${issue.message}` : issue.message;
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** The API stops generating at max_tokens; text is cut short, a tool call that does not fit is dropped. */
function limitToMaxTokens(content: Content, maxTokens: number): Content {
  let budget = maxTokens * 4;
  const blocks: OutputBlock[] = [];
  for (const block of content.blocks) {
    const chars = block.type === "text" ? [...block.text] : [...JSON.stringify(block.input)];
    if (chars.length <= budget) {
      blocks.push(block);
      budget -= chars.length;
      continue;
    }
    if (block.type === "text" && budget > 0) blocks.push({ type: "text", text: chars.slice(0, budget).join("") });
    return { blocks, stopReason: "max_tokens" };
  }
  return { blocks, stopReason: content.stopReason };
}

function outputTokens(blocks: OutputBlock[]): number {
  const chars = blocks.reduce(
    (sum, b) => sum + [...(b.type === "text" ? b.text : JSON.stringify(b.input))].length,
    0,
  );
  return Math.max(1, estimateTokens(chars));
}

interface PlannedMessage {
  id: string;
  requestId: string;
  model: string;
  content: Content;
  usage: Usage;
  inputUsage: InputUsage;
}

function jsonResponse(
  message: PlannedMessage,
  firstTokenDelayMs: number,
  interruption: Interruption | undefined,
): Response {
  const json = JSON.stringify(
    buildMessage({ id: message.id, model: message.model, content: message.content.blocks, stopReason: message.content.stopReason, usage: message.usage }),
  );
  const headers = { "content-type": "application/json", "request-id": message.requestId };
  if (!interruption && firstTokenDelayMs === 0) return new Response(json, { headers });
  // Delays and cuts happen inside the body so the status line and headers go out first.
  async function* body(): AsyncGenerator<string> {
    await sleep(firstTokenDelayMs);
    if (!interruption) {
      yield json;
      return;
    }
    yield json.slice(0, Math.min(Math.max(1, interruption.afterChars), json.length - 1));
    throw new ScriptedCut();
  }
  return new Response(toByteStream(body()), { headers });
}

function sseResponse(requestId: string, events: AsyncGenerator<string>): Response {
  return new Response(toByteStream(events), {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "request-id": requestId,
    },
  });
}

/**
 * The API's event order: message_start, then per block start / ping (once) / deltas / stop,
 * then message_delta with the stop reason and final usage, then message_stop. An
 * interruption ends the stream after `afterChars` characters of deltas, before message_stop.
 */
async function* streamEvents(
  message: PlannedMessage,
  firstTokenDelayMs: number,
  interruption: Interruption | undefined,
  chunkDelayMs: number,
): AsyncGenerator<string> {
  await sleep(firstTokenDelayMs);
  yield sseFrame({
    type: "message_start",
    message: buildMessage({
      id: message.id,
      model: message.model,
      content: [],
      stopReason: null,
      usage: { ...message.usage, output_tokens: 1 },
    }),
  });
  let sent = 0;
  const blocks = message.content.blocks;
  for (const [index, block] of blocks.entries()) {
    yield sseFrame({
      type: "content_block_start",
      index,
      content_block:
        block.type === "text"
          ? { type: "text", text: "", citations: null }
          : { type: "tool_use", id: block.id, name: block.name, input: {}, caller: { type: "direct" } },
    });
    if (index === 0) yield sseFrame({ type: "ping" });
    const pieces = block.type === "text" ? wordChunks(block.text) : codePointChunks(JSON.stringify(block.input), 16);
    for (const piece of pieces) {
      const chars = [...piece];
      let part = piece;
      const interruptNow = interruption !== undefined && sent + chars.length >= interruption.afterChars;
      if (interruption && interruptNow) part = chars.slice(0, interruption.afterChars - sent).join("");
      if (part) {
        yield sseFrame({
          type: "content_block_delta",
          index,
          delta: block.type === "text" ? { type: "text_delta", text: part } : { type: "input_json_delta", partial_json: part },
        });
        sent += [...part].length;
      }
      if (interruption && interruptNow) {
        yield* interrupt(interruption, message.requestId);
        return;
      }
      if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    }
    yield sseFrame({ type: "content_block_stop", index });
  }
  if (interruption) {
    yield* interrupt(interruption, message.requestId);
    return;
  }
  yield sseFrame({
    type: "message_delta",
    delta: { stop_reason: message.content.stopReason, stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: message.inputUsage.input_tokens,
      cache_creation_input_tokens: message.inputUsage.cache_creation_input_tokens,
      cache_read_input_tokens: message.inputUsage.cache_read_input_tokens,
      output_tokens: message.usage.output_tokens,
      output_tokens_details: null,
      server_tool_use: null,
    },
  });
  yield sseFrame({ type: "message_stop" });
}

async function* interrupt(interruption: Interruption, requestId: string): AsyncGenerator<string> {
  if (interruption.kind === "stream_error") {
    yield sseFrame(errorEnvelope(interruption.errorType, undefined, requestId));
    return;
  }
  throw new ScriptedCut();
}

/** Thrown inside a response body to make the server drop the connection mid-response. */
class ScriptedCut extends Error {
  constructor() {
    super("scripted fault: connection cut mid-response");
    this.name = "ScriptedCut";
  }
}

function toByteStream(chunks: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

/** Word-sized deltas (each word with the whitespace after it), so streaming is observable. */
function wordChunks(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

function codePointChunks(text: string, size: number): string[] {
  const chars = [...text];
  const chunks: string[] = [];
  for (let i = 0; i < chars.length; i += size) chunks.push(chars.slice(i, i + size).join(""));
  return chunks;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
