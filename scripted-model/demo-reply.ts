// The scripted model's own answer when nothing is scripted: what `npm start` users see
// without an API key. Deterministic, shows the message was read, says how to connect Claude.
import { evaluateArithmetic } from "./arithmetic.ts";
import { parseDirectives } from "./directives.ts";
import type { ContentBlock, MessagesRequest, RequestMessage } from "./messages-request.ts";
import { contentBlocks, textOf } from "./messages-request.ts";

const QUOTE_LIMIT = 200;

const CONNECT_HINT =
  "I'm edgeharness's built-in scripted model, a deterministic stand-in that answers when no real " +
  "model is connected. To talk to Claude, set ANTHROPIC_API_KEY (and optionally ANTHROPIC_BASE_URL " +
  "for an Anthropic-compatible gateway), then restart `npm start`.";

const SHORT_CONNECT_HINT =
  "(Scripted reply from edgeharness's built-in model; set ANTHROPIC_API_KEY and restart `npm start` to use Claude.)";

/**
 * Answers the last user message: acknowledges its tool results if it carries any, otherwise
 * quotes it with word and character counts, evaluates it if it is arithmetic, and names the
 * turn (and the previous message) so multi-turn context is visible. `text` is that message's
 * text with directives already removed.
 */
export function demoReply(request: MessagesRequest, text: string): string {
  const turns = request.messages.filter(isUserTurn);
  const last = request.messages.findLast((m) => m.role === "user");
  const toolResults = last ? contentBlocks(last.content).filter((b) => b.type === "tool_result") : [];
  if (toolResults.length > 0) return [...toolResults.map((r) => describeToolResult(r, request)), SHORT_CONNECT_HINT].join("\n");

  const lines: string[] = [];
  if (text.trim()) {
    lines.push(`You said: "${quote(text)}" (${plural(countWords(text), "word")}, ${plural([...text].length, "character")}).`);
    const evaluation = evaluateArithmetic(text);
    if (evaluation) lines.push(`${evaluation.expression} = ${evaluation.result}.`);
  } else {
    lines.push(last && textOf(last.content).trim() ? "Your message held only scripted-model directives." : "Your message had no text.");
  }
  const previous = turns.at(-2);
  if (previous) {
    const previousText = parseDirectives(textOf(previous.content)).residualText;
    lines.push(
      `This is turn ${turns.length} of our conversation; before this you said: "${quote(previousText, 60)}".`,
    );
  } else {
    lines.push("This is the first turn of our conversation.");
  }
  lines.push("", CONNECT_HINT);
  return lines.join("\n");
}

/** A user turn is a user message that says something, not one that only returns tool results. */
function isUserTurn(message: RequestMessage): boolean {
  return message.role === "user" && contentBlocks(message.content).some((b) => b.type !== "tool_result");
}

function describeToolResult(result: ContentBlock, request: MessagesRequest): string {
  const name = toolNameFor(result["tool_use_id"], request) ?? "tool";
  const content = result["content"];
  const output =
    typeof content === "string" ? content : Array.isArray(content) ? textOf(content.filter(isContentBlock)) : "";
  const lines = output.split("\n");
  const first = lines[0]?.trim() ?? "";
  if (result["is_error"] === true) {
    return `The ${name} tool reported an error: "${quote(first || "(no message)")}".`;
  }
  if (!output.trim()) return `The ${name} tool returned no output.`;
  return `The ${name} tool returned ${plural(lines.length, "line")}; the first: "${quote(first)}".`;
}

function toolNameFor(toolUseId: unknown, request: MessagesRequest): string | undefined {
  for (const message of request.messages) {
    if (message.role !== "assistant") continue;
    for (const block of contentBlocks(message.content)) {
      if (block.type === "tool_use" && block["id"] === toolUseId && typeof block["name"] === "string") {
        return block["name"];
      }
    }
  }
  return undefined;
}

function isContentBlock(value: unknown): value is ContentBlock {
  return typeof value === "object" && value !== null && "type" in value && typeof value.type === "string";
}

function quote(text: string, limit = QUOTE_LIMIT): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length > limit ? `${chars.slice(0, limit).join("")}…` : flat;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
