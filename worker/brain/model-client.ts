// Model access through the official SDK, streaming; the same code reaches Anthropic, a compatible gateway,
// or the local scripted model, depending only on ANTHROPIC_BASE_URL.
import Anthropic from '@anthropic-ai/sdk';
import type { Env } from '../env.ts';
import type { ModelRequest } from './context-builder.ts';

export interface ModelUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export type ModelBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface ModelTurn {
  content: ModelBlock[];
  stopReason: string | null;
  usage: ModelUsage;
}

export interface ModelPort {
  /** Streams one model request; `onText` sees each text delta (awaited, so a slow consumer applies backpressure). */
  stream(req: ModelRequest, onText: (text: string) => Promise<void> | void): Promise<ModelTurn>;
}

export function anthropicModel(env: Env): ModelPort {
  const client = new Anthropic({
    apiKey: env.ANTHROPIC_API_KEY || 'no-key-configured',
    ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
    maxRetries: 2,
  });
  return {
    async stream(req, onText) {
      const stream = client.messages.stream(req as unknown as Anthropic.MessageStreamParams);
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

/** The official session.error type for a failed model call. */
export function modelErrorType(err: unknown): 'model_rate_limited_error' | 'model_overloaded_error' | 'model_request_failed_error' {
  const status = err instanceof Anthropic.APIError ? err.status : undefined;
  if (status === 429) return 'model_rate_limited_error';
  if (status === 529) return 'model_overloaded_error';
  return 'model_request_failed_error';
}
