// One model request as a step makes it: streamed to live readers as deltas, retried with backoff when the failure
// is worth retrying (each retry visible in the log as a session.error), abandoned as soon as the lease is lost.
// Only an answer that completes is returned, so a retried or cut stream never yields a second agent.message.
import { newId } from '../../contract/ids.ts';
import { messageDelta, messageStart, sessionError, type NewEvent } from '../../contract/events.ts';
import type { ModelRequest } from './context-builder.ts';
import { classifyModelError, type ModelFailure, type ModelPort, type ModelTurn } from './model-client.ts';
import { StaleEpoch, type LogPort } from './ports.ts';
import type { StepOptions } from './step.ts';

const DELTA_FLUSH_MS = 40;
const LEASE_CHECK_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 120_000;

export type ModelAnswer =
  | { ok: true; turn: ModelTurn; /** The id the streamed deltas announced: the agent.message must carry it. */ messageId: string }
  | { ok: false; failure: ModelFailure; attempts: number };

export async function requestModel(
  request: ModelRequest,
  ports: { log: LogPort; model: ModelPort },
  epoch: number,
  emit: (events: NewEvent[]) => Promise<unknown>,
  options: StepOptions,
  /** Stream the text to live readers as an agent.message preview; a grader's answer is not the agent's, so false. */
  live = true,
): Promise<ModelAnswer> {
  const { log, model } = ports;
  for (let attempt = 1; ; attempt++) {
    const messageId = newId('sevt');
    const deltas = new DeltaPublisher(log, epoch, messageId);
    const watch = watchLease(log, epoch);
    try {
      const turn = await model.stream(request, (text) => (live ? deltas.push(text) : undefined), watch.signal);
      await deltas.flush();
      return { ok: true, turn, messageId };
    } catch (err) {
      if (err instanceof StaleEpoch) throw err;
      // The log failing to take a delta is the log's failure, not the model's: it ends the step as a failed
      // append does (the watchdog hands the session to a fresh brain), and is not retried as a model error.
      if (deltas.failure) throw deltas.failure.error;
      // An interrupt moved the epoch on: this answer is no longer wanted, and could not land anyway.
      if (watch.signal.aborted) throw new StaleEpoch('lease lost during the model call');
      const failure = classifyModelError(err);
      if (!failure.retryable || attempt >= options.maxModelAttempts) return { ok: false, failure, attempts: attempt };
      const delay = backoffMs(attempt, failure.retryAfterMs, options.retryBaseMs);
      const reason = failure.retryAfterMs !== null ? 'as retry-after asks' : 'backing off';
      await emit([
        sessionError({
          type: failure.type,
          message: `${failure.message}; attempt ${attempt + 1} of ${options.maxModelAttempts} in ${(delay / 1000).toFixed(1)} s (${reason})`,
          retry_status: { type: 'retrying' },
        }),
      ]);
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      watch.stop();
    }
  }
}

/** Aborts the model call as soon as the brain no longer holds the lease (a user.interrupt, a takeover). */
function watchLease(log: LogPort, epoch: number): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const timer = setInterval(() => {
    log.stillHolds(epoch).then(
      (holds) => {
        if (!holds) controller.abort(new Error('lease lost'));
      },
      () => {},
    );
  }, LEASE_CHECK_MS);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

/** Exponential backoff with jitter (half to all of the step), or exactly what `retry-after` asked for. */
function backoffMs(attempt: number, retryAfterMs: number | null, baseMs: number): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  const step = Math.min(baseMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
  return step / 2 + Math.random() * (step / 2);
}

/**
 * Streams model text to live readers as `event_start` / `event_delta` frames for the agent.message that will
 * carry the full text. Deltas are batched so a fast model does not cost one Durable Object call per token.
 */
class DeltaPublisher {
  /** Set when the log could not take a delta. */
  failure: { error: unknown } | null = null;
  private buffer = '';
  private started = false;
  private lastFlush = 0;
  private index = 0;
  private readonly log: LogPort;
  private readonly epoch: number;
  private readonly eventId: string;
  constructor(log: LogPort, epoch: number, eventId: string) {
    this.log = log;
    this.epoch = epoch;
    this.eventId = eventId;
  }

  async push(text: string): Promise<void> {
    this.buffer += text;
    if (Date.now() - this.lastFlush >= DELTA_FLUSH_MS) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.buffer) return;
    try {
      if (!this.started) {
        this.started = true;
        await this.log.broadcastDelta(this.epoch, messageStart(this.eventId));
      }
      const text = this.buffer;
      this.buffer = '';
      this.lastFlush = Date.now();
      await this.log.broadcastDelta(this.epoch, messageDelta(this.eventId, this.index++, text));
    } catch (error) {
      this.failure ??= { error };
      throw error;
    }
  }
}
