// The Messages API's wire shapes as the scripted model emits them: the Message object, SSE
// framing, and the one mapping from HTTP status to error type and envelope.
import type {
  Message,
  RawMessageStreamEvent,
  StopReason,
  TextBlock,
  ToolUseBlock,
  Usage,
} from "@anthropic-ai/sdk/resources/messages";
import type { ErrorType } from "@anthropic-ai/sdk/resources/shared";
import type { InputUsage } from "./prompt-cache.ts";

/** `request_too_large` is sent by the API for 413 but missing from the SDK's union. */
export type ApiErrorType = ErrorType | "request_too_large";

export type OutputBlock = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

const ERROR_TYPE_BY_STATUS: ReadonlyMap<number, ApiErrorType> = new Map([
  [400, "invalid_request_error"],
  [401, "authentication_error"],
  [402, "billing_error"],
  [403, "permission_error"],
  [404, "not_found_error"],
  [408, "timeout_error"],
  [409, "conflict_error"],
  [413, "request_too_large"],
  [429, "rate_limit_error"],
  [500, "api_error"],
  [504, "timeout_error"],
  [529, "overloaded_error"],
]);

const DEFAULT_MESSAGE: Partial<Record<ApiErrorType, string>> = {
  rate_limit_error: "This request would exceed your rate limit (scripted fault).",
  overloaded_error: "Overloaded (scripted fault).",
  api_error: "Internal server error (scripted fault).",
  timeout_error: "Request timed out (scripted fault).",
};

function errorTypeForStatus(status: number): ApiErrorType {
  return ERROR_TYPE_BY_STATUS.get(status) ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

/** `message` defaults to a generic one for the type, marked as a scripted fault. */
export function errorEnvelope(type: ApiErrorType, message: string | undefined, requestId: string) {
  return {
    type: "error" as const,
    error: { type, message: message ?? DEFAULT_MESSAGE[type] ?? `Scripted ${type}.` },
    request_id: requestId,
  };
}

export function errorResponse(
  status: number,
  message: string | undefined,
  requestId: string,
  headers: Record<string, string> = {},
): Response {
  const body = errorEnvelope(errorTypeForStatus(status), message, requestId);
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "request-id": requestId, ...headers },
  });
}

export function toUsage(input: InputUsage, outputTokens: number): Usage {
  return {
    ...input,
    output_tokens: outputTokens,
    inference_geo: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: "standard",
    speed: null,
  };
}

function toContentBlock(block: OutputBlock): TextBlock | ToolUseBlock {
  return block.type === "text"
    ? { type: "text", text: block.text, citations: null }
    : { type: "tool_use", id: block.id, name: block.name, input: block.input, caller: { type: "direct" } };
}

export function buildMessage(fields: {
  id: string;
  model: string;
  content: OutputBlock[];
  stopReason: StopReason | null;
  usage: Usage;
}): Message {
  return {
    id: fields.id,
    type: "message",
    role: "assistant",
    model: fields.model,
    content: fields.content.map(toContentBlock),
    stop_reason: fields.stopReason,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: fields.usage,
  };
}

type SseEvent = RawMessageStreamEvent | { type: "ping" } | ReturnType<typeof errorEnvelope>;

/** One SSE frame; the event name repeats the payload's `type`, as the API sends it. */
export function sseFrame(event: SseEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
