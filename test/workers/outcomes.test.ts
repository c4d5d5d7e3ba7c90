// Outcomes: `user.define_outcome` sets the agent a task and a rubric; each time the agent ends its turn a grader
// (its own model request) judges the work, and its feedback goes back to the agent until the rubric is met or
// max_iterations runs out. The scripted model answers as the grader through `[[grade:…]]` in the rubric.
import { env, SELF } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { injectFaults } from '../support/faults.ts';
import { allEvents, call, KEY, makeSession, settle } from './api.ts';

const BASE = 'http://edgeharness.test';

function outcome(description: string, rubric: string, extra: Record<string, unknown> = {}) {
  return { type: 'user.define_outcome', description, rubric: { type: 'text', content: rubric }, ...extra };
}

async function send(sessionId: string, ...events: unknown[]) {
  return call('POST', `/v1/sessions/${sessionId}/events`, { events });
}

/** The request bodies the scripted model received that mention `marker`. */
async function modelRequestsWith(marker: string): Promise<any[]> {
  const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
  return recorded.data.map((r: any) => r.body).filter((b: any) => JSON.stringify(b).includes(marker));
}

const ofType = (events: any[], type: string) => events.filter((e) => e.type === type);

async function upload(text: string, filename: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new File([text], filename, { type }));
  const res = await SELF.fetch(`${BASE}/v1/files`, { method: 'POST', body: form, headers: { 'x-api-key': KEY } });
  const body = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return body.id;
}

/** Session usage equals what the agent's spans and the grader's spans report: each request counted once. */
function spanTokens(events: any[]) {
  let input = 0;
  let output = 0;
  for (const e of ofType(events, 'span.model_request_end')) {
    input += e.model_usage.input_tokens;
    output += e.model_usage.output_tokens;
  }
  for (const e of ofType(events, 'span.outcome_evaluation_end')) {
    input += e.usage.input_tokens;
    output += e.usage.output_tokens;
  }
  return { input, output };
}

describe('outcomes', () => {
  it('sends the agent back with the feedback until the grader is satisfied, then goes idle', async () => {
    const { sessionId } = await makeSession();
    const sent = await send(sessionId, outcome(`Name the word. [[reply:a first draft]] (${sessionId})`, 'The answer names the word. [[grade:until=REVISED]]'));
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    const echo = sent.body.data[0];
    expect(echo.type).toBe('user.define_outcome');
    expect(echo.outcome_id).toMatch(/^outc_/);

    const events = await settle(sessionId);
    const starts = ofType(events, 'span.outcome_evaluation_start');
    const ends = ofType(events, 'span.outcome_evaluation_end');
    expect(starts.map((e) => e.iteration)).toEqual([0, 1]);
    expect(ends.map((e) => [e.result, e.iteration])).toEqual([['needs_revision', 0], ['satisfied', 1]]);
    for (const [i, end] of ends.entries()) {
      expect(end.outcome_id).toBe(echo.outcome_id);
      expect(end.outcome_evaluation_start_id).toBe(starts[i].id);
      expect(end.usage.input_tokens).toBeGreaterThan(0);
    }
    expect(ends[0].explanation).toContain('REVISED');
    // A heartbeat between each start and its end.
    expect(ofType(events, 'span.outcome_evaluation_ongoing').length).toBeGreaterThanOrEqual(2);
    // Two agent turns: the draft, then the revision; the session went idle only once, at the end.
    expect(ofType(events, 'agent.message')).toHaveLength(2);
    expect(ofType(events, 'session.status_idle')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'end_turn' } });

    // The agent's revision request carried the grader's feedback as a user turn.
    const agentRequests = (await modelRequestsWith(sessionId)).filter((b) => b.tools !== undefined || !JSON.stringify(b.system ?? '').includes('You are a grader'));
    const revision = agentRequests.find((b) => JSON.stringify(b.messages).includes('does not contain \\"REVISED\\"'));
    expect(revision?.messages.at(-1).role).toBe('user');

    const session = await call('GET', `/v1/sessions/${sessionId}`);
    expect(session.body.status).toBe('idle');
    expect(session.body.outcome_evaluations).toEqual([
      {
        type: 'outcome_evaluation',
        outcome_id: echo.outcome_id,
        description: echo.description,
        result: 'satisfied',
        iteration: 1,
        explanation: ends[1].explanation,
        completed_at: ends[1].processed_at,
      },
    ]);
  });

  it('stops after max_iterations evaluations with max_iterations_reached, after one final agent turn', async () => {
    const { sessionId } = await makeSession();
    await send(sessionId, outcome(`Try once. [[reply:not good enough]] (${sessionId})`, 'Never met. [[grade:needs_revision]]', { max_iterations: 1 }));
    const events = await settle(sessionId);
    const ends = ofType(events, 'span.outcome_evaluation_end');
    expect(ends.map((e) => e.result)).toEqual(['max_iterations_reached']);
    expect(ofType(events, 'span.outcome_evaluation_start')).toHaveLength(1);
    // official: "one final acknowledgment turn follows before the session goes idle, but no further evaluation runs"
    const afterEnd = events.slice(events.indexOf(ends[0]) + 1).map((e) => e.type);
    expect(afterEnd).toContain('agent.message');
    expect(afterEnd.at(-1)).toBe('session.status_idle');
    const session = await call('GET', `/v1/sessions/${sessionId}`);
    expect(session.body.outcome_evaluations[0]).toMatchObject({ result: 'max_iterations_reached', iteration: 0 });
    expect(session.body.outcome_evaluations[0].completed_at).not.toBeNull();
  });

  it('ends the outcome failed, with the reason, when the grader answers no verdict, and goes idle', async () => {
    const { sessionId } = await makeSession();
    await send(sessionId, outcome(`Do it. [[reply:done]] (${sessionId})`, 'Anything. [[grade:unparseable]]'));
    const events = await settle(sessionId);
    const ends = ofType(events, 'span.outcome_evaluation_end');
    expect(ends).toHaveLength(1);
    expect(ends[0].result).toBe('failed');
    expect(ends[0].explanation).toContain('not a verdict');
    // No revision turn: the end is followed by the idle.
    expect(events.slice(events.indexOf(ends[0]) + 1).map((e) => e.type)).toEqual(['session.status_idle']);
    expect(ofType(events, 'agent.message')).toHaveLength(1);
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.outcome_evaluations[0].result).toBe('failed');
  });

  it("counts the grader's requests and tokens toward the session's budgets and usage", async () => {
    const a = await call('POST', '/v1/agents', { name: 'budgeted', model: 'claude-sonnet-5-5' });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    // Two model requests: the agent's answer and one grader request; the revision would be a third.
    const s = await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id, limits: { max_model_requests: 2 } });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    const sessionId = s.body.id;
    await send(sessionId, outcome(`Work. [[reply:some work]] (${sessionId})`, 'Never met. [[grade:needs_revision]]'));
    const events = await settle(sessionId);
    expect(ofType(events, 'span.outcome_evaluation_end').map((x) => x.result)).toEqual(['needs_revision']);
    expect(ofType(events, 'span.model_request_start')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'budget_reached' }, limit: 'max_model_requests' });

    const session = (await call('GET', `/v1/sessions/${sessionId}`)).body;
    const spans = spanTokens(events);
    expect(ofType(events, 'span.outcome_evaluation_end')[0].usage.output_tokens).toBeGreaterThan(0);
    expect(session.usage.input_tokens).toBe(spans.input);
    expect(session.usage.output_tokens).toBe(spans.output);
    expect(Number(session.usage.list_cost.amount)).toBeGreaterThan(0);
  });

  it("never shows the grader the agent's system prompt or tools, and never shows the agent the rubric", async () => {
    const system = 'SYSTEM-PROMPT-OF-THE-AGENT-7f3a';
    const { sessionId } = await makeSession(KEY, { system, tools: [{ type: 'custom', name: 'lookup', description: 'Looks things up.', input_schema: { type: 'object', properties: {} } }] });
    await send(sessionId, outcome(`Answer. [[reply:answered]] (${sessionId})`, 'RUBRIC-CRITERION-91c2 [[grade:satisfied]]'));
    await settle(sessionId);
    const requests = await modelRequestsWith(sessionId);
    const grader = requests.filter((b) => JSON.stringify(b.messages).includes('RUBRIC-CRITERION-91c2'));
    expect(grader).toHaveLength(1);
    expect(JSON.stringify(grader[0])).not.toContain(system);
    expect(grader[0].tools).toBeUndefined();
    expect(JSON.stringify(grader[0].system)).toContain('grader');
    // The work is in the grader's request.
    expect(JSON.stringify(grader[0].messages)).toContain('answered');
    const agent = requests.filter((b) => JSON.stringify(b.system ?? '').includes(system));
    expect(agent.length).toBeGreaterThan(0);
    for (const b of agent) expect(JSON.stringify(b)).not.toContain('RUBRIC-CRITERION-91c2');
  });

  it('ends an evaluation failed, not graded, when max_wall_seconds ran out before the grader could run', async () => {
    const a = await call('POST', '/v1/agents', { name: 'clocked', model: 'claude-sonnet-5-5' });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    const s = await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id, limits: { max_wall_seconds: 2 } });
    const sessionId = s.body.id;
    // The agent's answer lands after the deadline, opening an evaluation the clock does not leave time for.
    await send(sessionId, outcome(`Slow work. [[reply:done]] [[delay 3000]] (${sessionId})`, 'Met. [[grade:satisfied]]'));
    const events = await settle(sessionId, 20_000);
    const ends = ofType(events, 'span.outcome_evaluation_end');
    expect(ends.map((x) => x.result)).toEqual(['failed']);
    expect(ends[0].explanation).toContain('max_wall_seconds');
    expect(events.at(-1)).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'budget_reached' }, limit: 'max_wall_seconds' });
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.outcome_evaluations[0].result).toBe('failed');
  });

  it('refuses bad define_outcome input with a 400 naming the field, and appends nothing', async () => {
    const { sessionId } = await makeSession();
    const imageId = await upload('not really a png', 'chart.png', 'image/png');
    const cases: Array<[unknown[], string]> = [
      [[outcome('task', 'rubric', { max_iterations: 21 })], 'events[0].max_iterations'],
      [[outcome('task', 'rubric', { max_iterations: 0 })], 'events[0].max_iterations'],
      [[outcome('task', '')], 'events[0].rubric'],
      [[{ type: 'user.define_outcome', rubric: { type: 'text', content: 'r' } }], 'events[0].description'],
      [[{ type: 'user.define_outcome', description: 'task', rubric: { type: 'url', url: 'x' } }], 'events[0].rubric'],
      [[{ type: 'user.define_outcome', description: 'task', rubric: { type: 'file', file_id: 'file_missing' } }], 'events[0].rubric.file_id'],
      [[{ type: 'user.define_outcome', description: 'task', rubric: { type: 'file', file_id: imageId } }], 'events[0].rubric.file_id'],
      [[outcome('one', 'r'), outcome('two', 'r')], 'events[1]'],
    ];
    for (const [events, field] of cases) {
      const r = await call('POST', `/v1/sessions/${sessionId}/events`, { events });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
      expect(r.body.error.message.startsWith(field), r.body.error.message).toBe(true);
    }
    expect(await allEvents(sessionId)).toEqual([]);
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.outcome_evaluations).toEqual([]);
  });

  it('resolves a file rubric to its text when the outcome is accepted', async () => {
    const { sessionId } = await makeSession();
    const fileId = await upload('# Rubric\n- FILE-RUBRIC-5d1e is met [[grade:satisfied]]', 'rubric.md', 'text/markdown');
    const r = await send(sessionId, { type: 'user.define_outcome', description: `From a file. [[reply:ok]] (${sessionId})`, rubric: { type: 'file', file_id: fileId } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data[0].rubric).toEqual({ type: 'text', content: '# Rubric\n- FILE-RUBRIC-5d1e is met [[grade:satisfied]]' });
    const events = await settle(sessionId);
    expect(ofType(events, 'span.outcome_evaluation_end').map((e) => e.result)).toEqual(['satisfied']);
  });

  it('accepts an outcome among a new session\'s initial_events', async () => {
    const a = await call('POST', '/v1/agents', { name: 'initial', model: 'claude-sonnet-5-5' });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    const s = await call('POST', '/v1/sessions', {
      agent: a.body.id,
      environment_id: e.body.id,
      initial_events: [outcome('From the start. [[reply:started]]', 'Met. [[grade:satisfied]]')],
    });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    expect(s.body.outcome_evaluations).toHaveLength(1);
    const events = await settle(s.body.id);
    expect(ofType(events, 'span.outcome_evaluation_end').map((x) => x.result)).toEqual(['satisfied']);
  });

  it('ends an evaluation interrupted when the user interrupts the grader', async () => {
    const { sessionId } = await makeSession();
    await send(sessionId, outcome(`Slow grading. [[reply:work]] (${sessionId})`, 'Met. [[grade:satisfied]] [[delay 3000]]'));
    const deadline = Date.now() + 20_000;
    while (!(await allEvents(sessionId)).some((e) => e.type === 'span.outcome_evaluation_ongoing')) {
      if (Date.now() > deadline) throw new Error('the grader never started');
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await send(sessionId, { type: 'user.interrupt' })).status).toBe(200);
    const events = await settle(sessionId);
    expect(ofType(events, 'span.outcome_evaluation_end').map((e) => e.result)).toEqual(['interrupted']);
    // The grader's late verdict never lands.
    await new Promise((r) => setTimeout(r, 3500));
    expect(ofType(await allEvents(sessionId), 'span.outcome_evaluation_end')).toHaveLength(1);
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.outcome_evaluations[0].result).toBe('interrupted');
  });

  it('ends the outcome interrupted when the user interrupts the agent at work, so another can be defined', async () => {
    const { sessionId } = await makeSession();
    await send(sessionId, outcome(`Slow work. [[delay 3000]] (${sessionId})`, 'Met. [[grade:satisfied]]'));
    const deadline = Date.now() + 20_000;
    while (!(await allEvents(sessionId)).some((e) => e.type === 'span.model_request_start')) {
      if (Date.now() > deadline) throw new Error('the agent never started');
      await new Promise((r) => setTimeout(r, 25));
    }
    // One outcome at a time: a second is refused while the first is worked on.
    const refused = await send(sessionId, outcome('another', 'Met. [[grade:satisfied]]'));
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('user.interrupt');
    await send(sessionId, { type: 'user.interrupt' });
    const events = await settle(sessionId);
    const ends = ofType(events, 'span.outcome_evaluation_end');
    expect(ends.map((e) => [e.result, e.iteration])).toEqual([['interrupted', 0]]);
    expect(ends[0].outcome_evaluation_start_id).toBe(ofType(events, 'span.outcome_evaluation_start')[0].id);
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.outcome_evaluations[0].result).toBe('interrupted');

    const next = await send(sessionId, outcome(`Again. [[reply:quick]] (${sessionId})`, 'Met. [[grade:satisfied]]'));
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    const after = await settle(sessionId);
    expect(ofType(after, 'span.outcome_evaluation_end').map((e) => e.result)).toEqual(['interrupted', 'satisfied']);
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.outcome_evaluations.map((o: any) => o.result)).toEqual(['interrupted', 'satisfied']);
  });

  it('grades once, counted once, when the brain dies after the grader answered', async () => {
    const { sessionId } = await makeSession();
    await injectFaults(env, sessionId, ['after_grader_response']);
    await send(sessionId, outcome(`Survive. [[reply:still here]] (${sessionId})`, 'Met. [[grade:satisfied]]'));
    const events = await settle(sessionId);
    const starts = ofType(events, 'span.outcome_evaluation_start');
    const ends = ofType(events, 'span.outcome_evaluation_end');
    expect(starts).toHaveLength(1);
    expect(ends.map((e) => e.result)).toEqual(['satisfied']);
    expect(ends[0].outcome_evaluation_start_id).toBe(starts[0].id);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // The dead brain's grader request was made but never recorded: usage holds the one that was.
    const graderRequests = (await modelRequestsWith(sessionId)).filter((b) => JSON.stringify(b.system ?? '').includes('You are a grader'));
    expect(graderRequests).toHaveLength(2);
    const session = (await call('GET', `/v1/sessions/${sessionId}`)).body;
    expect(session.usage.input_tokens).toBe(spanTokens(events).input);
    expect(session.status).toBe('idle');
  });
});
