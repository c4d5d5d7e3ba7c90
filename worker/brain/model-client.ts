// Model access through the official SDK, streaming; the same code reaches Anthropic, a compatible gateway,
// or the local scripted model, depending only on ANTHROPIC_BASE_URL.
import Anthropic from '@anthropic-ai/sdk';
import type { TokenUsage } from '../../contract/pricing.ts';
import type { Env } from '../env.ts';
import type { ModelRequest } from './context-builder.ts';

/** The token counts of one model request: the shape the list prices take (contract/pricing.ts). */
export type ModelUsage = TokenUsage;

export type ModelBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface ModelTurn {
  content: ModelBlock[];
  stopReason: string | null;
  usage: ModelUsage;
}

export interface ModelPort {
  /** Streams one model request; `onText` sees each text delta (awaited, so a slow consumer applies backpressure). */
  stream(req: ModelRequest, onText: (text: string) => Promise<void> | void, signal?: AbortSignal): Promise<ModelTurn>;
}

export function anthropicModel(env: Env): ModelPort {
  const client = new Anthropic({
    apiKey: env.ANTHROPIC_API_KEY || 'no-key-configured',
    ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
    // Retries are the brain's: each one is visible in the log as a session.error, and bounded there.
    maxRetries: 0,
  });
  return {
    async stream(req, onText, signal) {
      const stream = client.messages.stream(req as unknown as Anthropic.MessageStreamParams, signal ? { signal } : {});
      for await (const ev of stream) {
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') await onText(ev.delta.text);
      }
      const msg = await stream.finalMessage();
      return {
        content: msg.content.flatMap((b): ModelBlock[] => {
          if (b.type === 'text') return [{ type: 'text', text: b.text }];
          if (b.type === 'tool_use') return [{ type: 'tool_use', id: b.id, name: b.name, input: (b.input ?? {}) as Record<string, unknown> }];
          return [];
        }),
        stopReason: msg.stop_reason,
        usage: {
          input_tokens: msg.usage.input_tokens,
          output_tokens: msg.usage.output_tokens,
          cache_read_input_tokens: msg.usage.cache_read_input_tokens ?? 0,
          cache_creation_input_tokens: msg.usage.cache_creation_input_tokens ?? 0,
        },
      };
    },
  };
}

export interface ModelFailure {
  /** The official session.error type. */
  type: 'model_rate_limited_error' | 'model_overloaded_error' | 'model_request_failed_error';
  /** Worth trying again: rate limits, overload, server errors, connections and streams that broke. */
  retryable: boolean;
  /** What the server asked for with `retry-after`, if anything. */
  retryAfterMs: number | null;
  message: string;
}

export function classifyModelError(err: unknown): ModelFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Anthropic.APIError) {
    const status = err.status;
    const bodyType = (err.error as { error?: { type?: string } } | undefined)?.error?.type ?? err.type;
    const retryAfter = Number(err.headers?.get('retry-after'));
    const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : null;
    if (status === 429 || bodyType === 'rate_limit_error') return { type: 'model_rate_limited_error', retryable: true, retryAfterMs, message };
    if (status === 529 || bodyType === 'overloaded_error') return { type: 'model_overloaded_error', retryable: true, retryAfterMs, message };
    // A client error will fail the same way again; a server error, a timeout or a broken connection may not.
    const retryable = status === undefined || status === 408 || status === 409 || status >= 500;
    return { type: 'model_request_failed_error', retryable, retryAfterMs, message };
  }
  // A stream that ended before message_stop, a network failure.
  return { type: 'model_request_failed_error', retryable: true, retryAfterMs: null, message };
}
