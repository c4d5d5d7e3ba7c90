// Benchmark for deployment runs: 100 (BENCH_DEPLOYMENT_RUNS) concurrent `deployments.run` calls on one deployment,
// each creating a session seeded with the initial events, against the scripted model. Reports runs started per
// second as the client sees them, the per-call latency, the errors (refused calls and runs recorded with an
// error), and how long until every run's session has answered and gone idle. Real runtime (wrangler dev, Durable
// Objects, brain). Prints numbers; asserts nothing.
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';

const RUNS = Number(process.env.BENCH_DEPLOYMENT_RUNS ?? 100);

console.log(`edgeharness deployments benchmark — ${RUNS} concurrent deployment runs, scripted model at zero latency\n`);

const { client, stop } = await startBenchRuntime('deployments');
try {
  const agent = await client.beta.agents.create({ name: 'bench-deployments', model: 'claude-sonnet-5-5' });
  const environment = await client.beta.environments.create({ name: 'bench-deployments' });
  const d = await client.beta.deployments.create({
    agent: agent.id,
    environment_id: environment.id,
    name: 'bench',
    initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'hello from a deployment' }] }],
  });
  const latencies: number[] = [];
  let refused = 0;
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: RUNS }, async () => {
      const s = performance.now();
      try {
        const run = await client.beta.deployments.run(d.id);
        latencies.push(performance.now() - s);
        return run;
      } catch (err) {
        refused++;
        console.error(`  run refused: ${(err as Error).message}`);
        return null;
      }
    }),
  );
  const startedMs = performance.now() - t0;
  const ok = runs.filter((r) => r && !r.error && r.session_id);
  const failed = runs.filter((r) => r?.error);
  for (const r of failed.slice(0, 3)) console.error(`  run error: ${r!.error!.type}: ${r!.error!.message}`);

  // Until every session has answered its initial message.
  const idleDeadline = Date.now() + 300_000;
  const pending = new Set(ok.map((r) => r!.session_id!));
  while (pending.size && Date.now() < idleDeadline) {
    await Promise.all(
      [...pending].map(async (id) => {
        const s = await client.beta.sessions.retrieve(id);
        if (s.status === 'idle' && s.usage.output_tokens) pending.delete(id);
      }),
    );
    if (pending.size) await new Promise((r) => setTimeout(r, 200));
  }
  const allIdleMs = performance.now() - t0;
  const listed = (await client.beta.deploymentRuns.list({ deployment_id: d.id, limit: 100 })).data.length;

  console.log(`  runs started          ${ok.length}/${RUNS} in ${startedMs.toFixed(0)} ms → ${((ok.length / startedMs) * 1000).toFixed(1)} runs/s`);
  console.log(`  run call latency      p50 ${pct(latencies, 50).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms`);
  console.log(`  errors                ${refused} refused calls, ${failed.length} runs recorded with an error`);
  console.log(`  all sessions answered ${pending.size ? `no: ${pending.size} still busy after 300 s` : `${allIdleMs.toFixed(0)} ms after the first call`}`);
  console.log(`  runs listed (page)    ${listed}\n`);
} finally {
  await stop();
}
