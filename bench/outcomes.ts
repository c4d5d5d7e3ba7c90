// Benchmark for outcomes: the time one grader evaluation adds to a turn, with the scripted model at zero latency,
// so what is measured is the runtime's own cost (the extra step, its appends, the grader request's round trip).
// Real runtime (wrangler dev, Durable Objects, brain). Prints numbers; asserts nothing.
import type Anthropic from '@anthropic-ai/sdk';
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';

const RUNS = Number(process.env.BENCH_OUTCOME_RUNS ?? 30);

console.log('edgeharness outcomes benchmark — scripted model at zero latency\n');

const { client, stop } = await startBenchRuntime('outcomes');
try {
  const agent = await client.beta.agents.create({ name: 'bench-outcomes', model: 'claude-sonnet-5-5', system: 'Benchmark agent.' });
  const environment = await client.beta.environments.create({ name: 'bench-outcomes' });
  const plain: number[] = [];
  const graded: number[] = [];
  const added: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
    plain.push((await turn(client, a, { type: 'user.message', content: [{ type: 'text', text: `plain ${i} [[reply:done]]` }] })).ms);
    const b = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
    const r = await turn(client, b, {
      type: 'user.define_outcome',
      description: `graded ${i} [[reply:done]]`,
      rubric: { type: 'text', content: 'The answer says done. [[grade:satisfied]]' },
    });
    graded.push(r.ms);
    // The evaluation opens in the append that records the agent's answer; without an outcome, that append ends the turn.
    added.push(Date.parse(r.idleAt) - Date.parse(r.evaluationStartAt));
  }
  console.log(`one grader evaluation, ${RUNS} runs (verdict satisfied at the first evaluation)`);
  console.log('                                               |  p50 ms |  p95 ms');
  console.log(`  added in the log (evaluation start → idle)   | ${fmt(pct(added, 50))} | ${fmt(pct(added, 95))}`);
  console.log(`  turn without an outcome (send → idle)        | ${fmt(pct(plain, 50))} | ${fmt(pct(plain, 95))}`);
  console.log(`  turn with an outcome (send → idle)           | ${fmt(pct(graded, 50))} | ${fmt(pct(graded, 95))}`);
  console.log('');
} finally {
  await stop();
}

type Input = Anthropic.Beta.Sessions.BetaManagedAgentsEventParams;

/** Sends one event and follows the live stream to idle: the client-observed duration and the evaluation's times. */
async function turn(c: Anthropic, id: string, event: Input): Promise<{ ms: number; evaluationStartAt: string; idleAt: string }> {
  const stream = await c.beta.sessions.events.stream(id);
  const t0 = performance.now();
  await c.beta.sessions.events.send(id, { events: [event] });
  let evaluationStartAt = '';
  let idleAt = '';
  for await (const ev of stream) {
    if (ev.type === 'span.outcome_evaluation_start') evaluationStartAt = ev.processed_at;
    if (ev.type === 'session.status_idle') {
      idleAt = ev.processed_at;
      break;
    }
  }
  return { ms: performance.now() - t0, evaluationStartAt, idleAt };
}

function fmt(n: number): string {
  return n.toFixed(0).padStart(7);
}
