// What every benchmark needs: the real runtime on a throwaway state dir, backed by the scripted model at zero
// latency, an SDK client for it, and percentiles.
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRuntime } from '../scripts/runtime.ts';
import { startScriptedModel } from '../scripted-model/server.ts';

export async function startBenchRuntime(
  name: string,
  workerVars?: Readonly<Record<string, string>>,
  /** Another Worker entry, e.g. the test Worker whose brain steps can be killed (test/support/faults.ts). */
  workerEntry?: string,
): Promise<{ client: Anthropic; url: string; apiKey: string; stop(): Promise<void> }> {
  // Bodies grow with the conversation; recording only the last few keeps the model's memory flat.
  const model = await startScriptedModel({ port: 0, maxRecordedRequests: 5 });
  const stateDir = mkdtempSync(path.join(tmpdir(), `eh-bench-${name}-`));
  const runtime = await startRuntime({
    port: 0,
    stateDir,
    env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', EDGEHARNESS_API_KEY: 'bench-key', PATH: process.env.PATH, HOME: process.env.HOME },
    workerVars,
    ...(workerEntry === undefined ? {} : { workerEntry }),
  });
  return {
    client: new Anthropic({ baseURL: runtime.url, apiKey: runtime.apiKey, maxRetries: 0 }),
    url: runtime.url,
    apiKey: runtime.apiKey,
    async stop() {
      await runtime.stop();
      await model.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
