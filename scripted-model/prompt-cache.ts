// Deterministic token and prompt-cache accounting: tokens are ceil(chars / 4) of the
// serialized prompt; cache hits are computed by prefix, the way the Messages API caches.
import type { CountTokensRequest, ContentBlock } from "./messages-request.ts";
import { contentBlocks } from "./messages-request.ts";

/** The API refuses a request with more breakpoints than this; so do we, to catch harness bugs. */
export const MAX_CACHE_BREAKPOINTS = 4;

/** The API also finds a cached prefix that ends up to this many blocks before a breakpoint. */
const LOOKBACK_BLOCKS = 20;

const TTL_MS = { "5m": 5 * 60_000, "1h": 60 * 60_000 } as const;
type Ttl = keyof typeof TTL_MS;

export interface InputUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/** One unit of the prompt in cache order, with what identifies it and what it costs. */
interface PromptBlock {
  identity: string;
  chars: number;
  breakpoint: Ttl | undefined;
}

export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/**
 * Walks the prompt in the API's cache order (tools, system, messages), one entry per tool or
 * content block. A string system prompt or message content counts as one text block, so both
 * spellings of the same prompt share a cache. `cache_control` is excluded from a block's
 * identity: moving a breakpoint must not change what the prefix before it is.
 */
function promptBlocks(request: CountTokensRequest): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  const push = (tag: string, block: Record<string, unknown>): void => {
    const { cache_control: cacheControl, ...rest } = block;
    const json = JSON.stringify(rest);
    blocks.push({ identity: `${tag}\u0000${json}`, chars: json.length, breakpoint: breakpointTtl(cacheControl) });
  };
  for (const tool of request.tools ?? []) push("tool", tool);
  if (request.system !== undefined) {
    for (const block of contentBlocks(request.system)) push("system", block);
  }
  request.messages.forEach((message, m) => {
    contentBlocks(message.content).forEach((block: ContentBlock, b) => {
      // The role and message boundary belong to the identity: [a, b] in one message is not [a], [b].
      push(`message\u0000${message.role}\u0000${b === 0 ? `start:${m}` : "cont"}`, block);
    });
  });
  // Top-level cache_control marks the last cacheable block (automatic caching).
  const last = blocks.at(-1);
  const automatic = breakpointTtl(request.cache_control);
  if (last && automatic) last.breakpoint = last.breakpoint ?? automatic;
  return blocks;
}

export function countBreakpoints(request: CountTokensRequest): number {
  const explicit = promptBlocks({ ...request, cache_control: undefined }).filter((b) => b.breakpoint).length;
  return explicit + (breakpointTtl(request.cache_control) ? 1 : 0);
}

/** Input tokens of a request, ignoring the cache (what count_tokens reports). */
export function countInputTokens(request: CountTokensRequest): number {
  return estimateTokens(promptBlocks(request).reduce((sum, b) => sum + b.chars, 0));
}

function breakpointTtl(cacheControl: unknown): Ttl | undefined {
  if (typeof cacheControl !== "object" || cacheControl === null) return undefined;
  if (!("type" in cacheControl) || cacheControl.type !== "ephemeral") return undefined;
  return "ttl" in cacheControl && cacheControl.ttl === "1h" ? "1h" : "5m";
}

export interface PromptCacheOptions {
  /** Clock in ms; tests pass their own to expire entries without waiting. */
  now?: () => number;
  /** A breakpoint whose prefix is shorter than this is not cached (the API's minimum is ~1024). */
  minCacheableTokens?: number;
}

/**
 * A prompt cache keyed by a hash chained over the prompt blocks, so a prefix's key is the
 * same in every request that starts with it. Each breakpoint writes its prefix; a later
 * request reads the longest live prefix found at or up to 20 blocks before one of its own
 * breakpoints, pays creation from there to its last breakpoint, and plain input after that.
 */
export class PromptCache {
  readonly #entries = new Map<string, { expiresAt: number; ttlMs: number }>();
  readonly #now: () => number;
  readonly #minTokens: number;

  constructor(options: PromptCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#minTokens = options.minCacheableTokens ?? 0;
  }

  clear(): void {
    this.#entries.clear();
  }

  async account(request: CountTokensRequest): Promise<InputUsage> {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);

    const blocks = promptBlocks(request);
    const cumulativeTokens: number[] = [];
    let chars = 0;
    for (const block of blocks) {
      chars += block.chars;
      cumulativeTokens.push(estimateTokens(chars));
    }
    const totalTokens = estimateTokens(chars);
    const tokensThrough = (i: number): number => (i < 0 ? 0 : (cumulativeTokens[i] ?? 0));

    const keys = await chainedHashes(request.model, blocks);
    const breakpoints = blocks.flatMap((block, i) =>
      block.breakpoint && tokensThrough(i) >= this.#minTokens ? [{ index: i, ttl: block.breakpoint }] : [],
    );

    let hit = -1;
    for (const { index } of [...breakpoints].reverse()) {
      for (let q = index; q >= Math.max(0, index - LOOKBACK_BLOCKS + 1) && q > hit; q--) {
        if (this.#entries.has(keys[q] ?? "")) {
          hit = q;
          break;
        }
      }
    }

    const creation = { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 };
    let cachedThrough = hit;
    for (const { index, ttl } of breakpoints) {
      if (index <= cachedThrough) continue;
      const tokens = tokensThrough(index) - tokensThrough(cachedThrough);
      if (ttl === "1h") creation.ephemeral_1h_input_tokens += tokens;
      else creation.ephemeral_5m_input_tokens += tokens;
      cachedThrough = index;
    }

    // Reading a prefix refreshes its lifetime, as the API does; writing never shortens one.
    const hitEntry = this.#entries.get(keys[hit] ?? "");
    if (hitEntry) hitEntry.expiresAt = Math.max(hitEntry.expiresAt, now + hitEntry.ttlMs);
    for (const { index, ttl } of breakpoints) {
      const key = keys[index] ?? "";
      const ttlMs = TTL_MS[ttl];
      const existing = this.#entries.get(key);
      this.#entries.set(key, {
        expiresAt: Math.max(existing?.expiresAt ?? 0, now + ttlMs),
        ttlMs: Math.max(existing?.ttlMs ?? 0, ttlMs),
      });
    }

    return {
      input_tokens: totalTokens - tokensThrough(cachedThrough),
      cache_creation_input_tokens: creation.ephemeral_5m_input_tokens + creation.ephemeral_1h_input_tokens,
      cache_read_input_tokens: tokensThrough(hit),
      cache_creation: creation,
    };
  }
}

/** keys[i] identifies blocks[0..i] for this model; chaining keeps the cost linear in blocks. */
async function chainedHashes(model: string, blocks: PromptBlock[]): Promise<string[]> {
  const keys: string[] = [];
  let previous = await sha256Hex(`model\u0000${model}`);
  for (const block of blocks) {
    previous = await sha256Hex(`${previous}\u0000${block.identity}`);
    keys.push(previous);
  }
  return keys;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
