// The Brain entrypoint: woken by a SessionLog alarm through the BRAIN service binding, runs one step.
import { WorkerEntrypoint } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { handsFor } from './hands.ts';
import { anthropicModel } from './model-client.ts';
import { runStep, type LogPort, type StepOutcome } from './step.ts';

export class Brain extends WorkerEntrypoint<Env> {
  async step(sessionId: string, epoch: number): Promise<StepOutcome> {
    const log = this.env.SESSION_LOG.get(this.env.SESSION_LOG.idFromName(sessionId)) as unknown as LogPort;
    return runStep(epoch, log, anthropicModel(this.env), handsFor(this.env));
  }
}
