// The Brain entrypoint: woken by a SessionLog alarm through the BRAIN service binding, runs one step.
import { WorkerEntrypoint } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { sessionLog } from '../../durable-objects/stubs.ts';
import { handsFor } from '../../sandbox/providers.ts';
import { anthropicModel } from './model-client.ts';
import { vaultFor } from './vault.ts';
import { DEFAULT_STEP_OPTIONS, InjectedCrash, runStep, type LogPort, type StepOptions, type StepOutcome } from './step.ts';

export class Brain extends WorkerEntrypoint<Env> {
  async step(sessionId: string, epoch: number): Promise<StepOutcome> {
    const log: LogPort = sessionLog(this.env, sessionId);
    try {
      return await runStep(epoch, log, anthropicModel(this.env), handsFor(this.env), stepOptions(this.env), vaultFor(this.env));
    } catch (err) {
      // A test's simulated kill: the step simply stops here, lease still held, as if the process had died.
      if (err instanceof InjectedCrash) return 'crashed';
      throw err;
    }
  }
}

function stepOptions(env: Env): StepOptions {
  const num = (v: string | undefined, dflt: number) => (v !== undefined && Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : dflt);
  return {
    maxModelAttempts: num(env.EDGEHARNESS_MODEL_MAX_ATTEMPTS, DEFAULT_STEP_OPTIONS.maxModelAttempts),
    retryBaseMs: num(env.EDGEHARNESS_RETRY_BASE_MS, DEFAULT_STEP_OPTIONS.retryBaseMs),
  };
}
