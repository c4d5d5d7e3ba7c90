// List prices (USD per million tokens) for the official `max_list_cost` budget. Cache writes (5-minute) cost
// 1.25× input and cache reads 0.1× input, as Anthropic prices them. A model this table does not know is priced
// as a Sonnet-class model: an estimate, stated in the docs, never a silent zero.

/** The token counts of one model request (the Messages API's usage, as the brain and the span events record it). */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

interface Rates {
  input: number;
  output: number;
}

const TABLE: Array<[RegExp, Rates]> = [
  [/opus-4-(0|1)\b|opus-4-20|opus-4-1-/, { input: 15, output: 75 }],
  [/opus/, { input: 5, output: 25 }],
  [/haiku-3/, { input: 0.8, output: 4 }],
  [/haiku/, { input: 1, output: 5 }],
  [/sonnet|fable/, { input: 3, output: 15 }],
];
const FALLBACK: Rates = { input: 3, output: 15 };

function ratesFor(model: string): Rates {
  return TABLE.find(([re]) => re.test(model))?.[1] ?? FALLBACK;
}

/** The list cost of one model request, in USD. */
export function listCostUsd(model: string, u: TokenUsage): number {
  const r = ratesFor(model);
  return (u.input_tokens * r.input + u.cache_creation_input_tokens * r.input * 1.25 + u.cache_read_input_tokens * r.input * 0.1 + u.output_tokens * r.output) / 1e6;
}
