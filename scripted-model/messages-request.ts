// The part of a Messages API request body the scripted model reads, validated loosely: the
// fields it relies on must have the right shape, everything else passes through untouched.
import { z } from "zod";

const ContentBlockSchema = z.looseObject({ type: z.string() });

const CacheControlSchema = z.looseObject({
  type: z.literal("ephemeral"),
  ttl: z.enum(["5m", "1h"]).optional(),
});

const MessageSchema = z.looseObject({
  // `system` messages exist in the SDK's MessageParam union; they are accepted, never answered.
  role: z.enum(["user", "assistant", "system"]),
  content: z.union([z.string(), z.array(ContentBlockSchema)]),
});

const ToolSchema = z.looseObject({ name: z.string().min(1) });

export const CountTokensRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(MessageSchema),
  system: z.union([z.string(), z.array(ContentBlockSchema)]).optional(),
  tools: z.array(ToolSchema).optional(),
  cache_control: CacheControlSchema.nullish(),
});

export const MessagesRequestSchema = CountTokensRequestSchema.extend({
  max_tokens: z.number().int().min(1),
  stream: z.boolean().optional(),
});

export type ContentBlock = z.infer<typeof ContentBlockSchema>;
export type RequestMessage = z.infer<typeof MessageSchema>;
export type RequestTool = z.infer<typeof ToolSchema>;
export type CountTokensRequest = z.infer<typeof CountTokensRequestSchema>;
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;

/** A string content is shorthand for one text block; treat both forms alike. */
export function contentBlocks(content: string | ContentBlock[]): ContentBlock[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : content;
}

/** The text of a message's text blocks, joined by newlines. */
export function textOf(content: string | ContentBlock[]): string {
  return contentBlocks(content)
    .flatMap((block) => (block.type === "text" && typeof block["text"] === "string" ? [block["text"]] : []))
    .join("\n");
}

/** Formats a zod issue path the way a caller writes it: `messages[0].content`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}
