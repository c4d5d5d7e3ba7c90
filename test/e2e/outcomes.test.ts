// Outcomes through the official SDK against the real runtime: define an outcome, watch the grader send the agent
// back once and then accept its work, and read the verdicts on the session.
import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type Event = Anthropic.Beta.Sessions.BetaManagedAgentsStreamSessionEvents;

describe('outcomes through the SDK', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('outcomes'), (run) => run.stop());

  it('revises once on the grader feedback, ends satisfied, and lists the evaluation on the session', async () => {
    const { client } = e2e;
    const agent = await client.beta.agents.create({ name: 'outcome-agent', model: 'claude-sonnet-5-5', system: 'Be brief.' });
    const environment = await client.beta.environments.create({ name: 'outcomes' });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const stream = await client.beta.sessions.events.stream(session.id);
    const sent = await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: 'user.define_outcome',
          description: 'Write a line. [[reply:a first line]]',
          rubric: { type: 'text', content: 'The line is final. [[grade:until=REVISED]]' },
          max_iterations: 2,
        },
      ],
    });
    const echo = sent.data?.[0];
    expect(echo?.type === 'user.define_outcome' && echo.outcome_id).toMatch(/^outc_/);
    const events: Event[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === 'session.status_idle') break;
    }
    const ends = events.flatMap((e) => (e.type === 'span.outcome_evaluation_end' ? [e] : []));
    expect(ends.map((e) => e.result)).toEqual(['needs_revision', 'satisfied']);
    expect(events.at(-1)?.type).toBe('session.status_idle');
    const retrieved = await client.beta.sessions.retrieve(session.id);
    expect(retrieved.outcome_evaluations).toHaveLength(1);
    expect(retrieved.outcome_evaluations[0]).toMatchObject({ result: 'satisfied', iteration: 1, type: 'outcome_evaluation' });
  });
});
