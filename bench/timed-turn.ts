// One timed turn, as the spine and telemetry benchmarks measure harness overhead: the wall time from sending a
// message to the session's idle on the live stream, and the part of it spent in the model (the model-request span).
import type Anthropic from '@anthropic-ai/sdk';

/** Sends `text` and waits for idle; `total` is wall ms, `model` the span.model_request_start → _end gap in ms. */
export async function timedTurn(client: Anthropic, id: string, text: string): Promise<{ total: number; model: number }> {
  const stream = await client.beta.sessions.events.stream(id);
  const t0 = performance.now();
  await client.beta.sessions.events.send(id, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
  let start = '';
  let end = '';
  for await (const ev of stream) {
    if (ev.type === 'span.model_request_start') start = ev.processed_at;
    if (ev.type === 'span.model_request_end') end = ev.processed_at;
    if (ev.type === 'session.status_idle') break;
  }
  const total = performance.now() - t0;
  return { total, model: Date.parse(end) - Date.parse(start) };
}
