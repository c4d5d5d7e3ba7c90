// Benchmark for the spine: harness overhead per turn (time not spent in the model) at 10, 1,000 and 10,000
// events in the log, and events appended per second to one session. Runs the real runtime (wrangler dev,
// Durable Objects, brain) against the scripted model at zero latency. Prints numbers; asserts nothing.
import type Anthropic from '@anthropic-ai/sdk';
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';
import { timedTurn } from './timed-turn.ts';

const TURNS_PER_POINT = Number(process.env.BENCH_TURNS ?? 15);
const LOG_SIZES = [10, 1_000, 10_000];
const BATCH = 100;

type Client = Anthropic;

const { client, stop } = await startBenchRuntime('spine');

try {
  const agent = await client.beta.agents.create({ name: 'bench', model: 'claude-sonnet-5-5', system: 'Benchmark agent.' });
  const environment = await client.beta.environments.create({ name: 'bench' });
  const newSession = async () => (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;

  console.log(`edgeharness spine benchmark — ${TURNS_PER_POINT} turns per point, scripted model at zero latency\n`);

  // ---- appends per second ----
  {
    const id = await newSession();
    const filler = (n: number) => Array.from({ length: n }, () => ({ type: 'user.interrupt' as const }));
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < 20; i++) {
      await client.beta.sessions.events.send(id, { events: filler(BATCH) });
      n += BATCH;
    }
    const batched = n / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    for (let i = 0; i < 200; i++) await client.beta.sessions.events.send(id, { events: filler(1) });
    const single = 200 / ((performance.now() - t1) / 1000);
    console.log('appends to one session (HTTP API → SessionLog, sequential requests)');
    console.log(`  batches of ${BATCH}: ${batched.toFixed(0)} events/s`);
    console.log(`  one per request:  ${single.toFixed(0)} events/s\n`);
  }

  // ---- overhead per turn vs log length ----
  // Two ways a log grows: events that are not model context (here user.interrupt while idle — like spans,
  // status and tool bookkeeping), and conversation that is (system.message). The first must not change the
  // overhead; the second grows the model request until compaction bounds it (a later issue).
  for (const kind of ['non-context', 'conversation'] as const) {
    console.log(`harness overhead per turn, log grown with ${kind} events`);
    console.log('  events in log | turn p50 ms | in-model p50 ms | overhead p50 ms | overhead p95 ms');
    for (const size of LOG_SIZES) {
      const id = await newSession();
      await pad(client, id, size, kind);
      const samples: Array<{ total: number; model: number }> = [];
      for (let t = 0; t < TURNS_PER_POINT; t++) samples.push(await timedTurn(client, id, `turn ${t}`));
      const overhead = samples.map((s) => s.total - s.model);
      console.log(
        `  ${String(size).padStart(13)} | ${fmt(pct(samples.map((s) => s.total), 50))} | ${fmt(pct(samples.map((s) => s.model), 50))} | ${fmt(pct(overhead, 50))} | ${fmt(pct(overhead, 95))}`,
      );
    }
    console.log('');
  }
} finally {
  await stop();
}

async function pad(client: Client, id: string, size: number, kind: 'non-context' | 'conversation') {
  let left = size;
  while (left > 0) {
    const n = Math.min(BATCH, left);
    const events =
      kind === 'non-context'
        ? Array.from({ length: n }, () => ({ type: 'user.interrupt' as const }))
        : Array.from({ length: n }, (_, i) => ({ type: 'system.message' as const, content: [{ type: 'text' as const, text: `note ${size - left + i}` }] }));
    await client.beta.sessions.events.send(id, { events });
    left -= n;
  }
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(15);
}
