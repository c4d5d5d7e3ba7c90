// One brain step, crash-only: read the log, call the model, append what was learned — fenced by the epoch.
// The step holds nothing between calls; every decision is re-derived from the log, so a fresh brain woken after
// a crash at any line continues the turn without duplicating an event.
import { newId } from '../api/ids.ts';
import type { NewEvent, SessionEvent } from '../api/schema/event.ts';
import type { EmitOptions, LiveDelta, Refusal, StepView } from '../../durable-objects/session-log.ts';
import { buildModelRequest, CONTEXT_EVENT_TYPES } from './context-builder.ts';
import { modelErrorType, type ModelPort } from './model-client.ts';

/** The part of the SessionLog a brain may use: fenced reads, fenced appends, live deltas. */
export interface LogPort {
  readForStep(epoch: number, types: string[]): Promise<StepView | Refusal>;
  emit(epoch: number, events: NewEvent[], opts?: EmitOptions): Promise<{ ok: true; events: SessionEvent[] } | Refusal>;
  release(epoch: number): Promise<boolean>;
  broadcastDelta(epoch: number, delta: LiveDelta): Promise<boolean>;
}

export type StepOutcome = 'end_turn' | 'model_error' | 'nothing_to_do' | 'stale';

/** Named points where tests can make a step die (EDGEHARNESS_FAULT_INJECTION); see `SessionLog.injectFaults`. */
export const CRASH_POINTS = ['before_running', 'after_running', 'after_model_request_start', 'mid_stream', 'after_model_response'] as const;

export class InjectedCrash extends Error {
  constructor(point: string) {
    super(`injected crash at ${point}`);
  }
}

class Stale extends Error {}

const SPAN_TYPES = ['span.model_request_start', 'span.model_request_end'];
const DELTA_FLUSH_MS = 40;

export async function runStep(epoch: number, log: LogPort, model: ModelPort): Promise<StepOutcome> {
  const view = await log.readForStep(epoch, [...CONTEXT_EVENT_TYPES, ...SPAN_TYPES]);
  if (!view.ok) return 'stale';
  const crash = (point: (typeof CRASH_POINTS)[number]) => {
    if (view.faults.includes(point)) throw new InjectedCrash(point);
  };
  const emit = async (events: NewEvent[], opts?: EmitOptions) => {
    const r = await log.emit(epoch, events, opts);
    if (!r.ok) throw new Stale(r.error.message);
    return r.events;
  };

  try {
    if (!view.pending) {
      await log.release(epoch);
      return 'nothing_to_do';
    }
    crash('before_running');
    if (view.status !== 'running') await emit([{ type: 'session.status_running' }]);
    crash('after_running');

    // A model request opened by a brain that died is reused, not opened twice.
    let startId = openModelRequest(view.events);
    if (!startId) startId = (await emit([{ type: 'span.model_request_start' }]))[0]!.id;
    crash('after_model_request_start');

    const context = view.events.filter((e) => !SPAN_TYPES.includes(e.type));
    const request = buildModelRequest(view.agent, context);
    const messageId = newId('sevt');
    const deltas = new DeltaPublisher(log, epoch, messageId);

    let turn;
    try {
      turn = await model.stream(request, async (text) => {
        await deltas.push(text);
        crash('mid_stream');
      });
    } catch (err) {
      if (err instanceof InjectedCrash || err instanceof Stale) throw err;
      await emit(
        [
          { type: 'span.model_request_end', model_request_start_id: startId, is_error: true, model_usage: zeroUsage() },
          {
            type: 'session.error',
            error: { type: modelErrorType(err), message: (err as Error).message, retry_status: { type: 'exhausted' } },
          },
          { type: 'session.status_idle', stop_reason: { type: 'retries_exhausted' }, stop_details: null },
        ],
        { release: true, consumedSeq: view.inputSeq },
      );
      return 'model_error';
    }
    await deltas.flush();
    crash('after_model_response');

    // One fenced append ends the turn: either all of it lands or none of it does.
    await emit(
      [
        { id: messageId, type: 'agent.message', content: turn.content },
        {
          type: 'span.model_request_end',
          model_request_start_id: startId,
          is_error: false,
          model_usage: {
            input_tokens: turn.usage.input_tokens,
            output_tokens: turn.usage.output_tokens,
            cache_read_input_tokens: turn.usage.cache_read_input_tokens,
            cache_creation_input_tokens: turn.usage.cache_creation_input_tokens,
          },
        },
        { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null },
      ],
      { release: true, consumedSeq: view.inputSeq, usage: turn.usage },
    );
    return 'end_turn';
  } catch (err) {
    if (err instanceof Stale) return 'stale';
    throw err;
  }
}

function openModelRequest(events: SessionEvent[]): string | null {
  const ended = new Set(events.filter((e) => e.type === 'span.model_request_end').map((e) => e.model_request_start_id));
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'span.model_request_start') return ended.has(e.id) ? null : e.id;
  }
  return null;
}

function zeroUsage() {
  return { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
}

/**
 * Streams model text to live readers as `event_start` / `event_delta` frames for the agent.message that will
 * carry the full text. Deltas are batched so a fast model does not cost one Durable Object call per token.
 */
class DeltaPublisher {
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
    if (!this.started) {
      this.started = true;
      await this.log.broadcastDelta(this.epoch, { type: 'event_start', event: { id: this.eventId, type: 'agent.message' } });
    }
    const text = this.buffer;
    this.buffer = '';
    this.lastFlush = Date.now();
    await this.log.broadcastDelta(this.epoch, {
      type: 'event_delta',
      event_id: this.eventId,
      delta: { type: 'content_delta', index: this.index++, content: { type: 'text', text } },
    });
  }
}
