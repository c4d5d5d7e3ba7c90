// What every benchmark needs: the real runtime on a throwaway state dir, backed by the scripted model at zero
// latency, an SDK client for it, and percentiles.
import type Anthropic from '@anthropic-ai/sdk';
import { startScriptedRuntime } from '../test/support/scripted-runtime.ts';

export async function startBenchRuntime(
  name: string,
  workerVars?: Readonly<Record<string, string>>,
  /** Another Worker entry, e.g. the test Worker whose brain steps can be killed (test/support/faults.ts). */
  workerEntry?: string,
): Promise<{ client: Anthropic; url: string; apiKey: string; adminKey: string; stop(): Promise<void> }> {
  // Bodies grow with the conversation; recording only the last few keeps the model's memory flat.
  // The per-key rate limit is off: a benchmark measures what the runtime can do, not the policy that caps one key.
  const vars = { EDGEHARNESS_RATE_LIMIT_PER_MINUTE: '0', ...workerVars };
  const run = await startScriptedRuntime(`bench-${name}`, { apiKey: 'bench-key', workerVars: vars, workerEntry, model: { maxRecordedRequests: 5 } });
  return { client: run.client, url: run.runtime.url, apiKey: run.runtime.apiKey, adminKey: run.runtime.adminKey, stop: () => run.stop() };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
