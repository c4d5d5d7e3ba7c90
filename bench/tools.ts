// Benchmark for the hands: time from `agent.tool_use` to `agent.tool_result` for `echo` on a warm sandbox,
// and for the first tool call of a session (cold: the sandbox is provisioned then). Real runtime, local
// sandbox host (bubblewrap), scripted model. Prints median and p95; asserts nothing.
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';
import { timedToolTurn } from './tool-turn.ts';

const COLD = Number(process.env.BENCH_COLD ?? 8);
const WARM = Number(process.env.BENCH_WARM ?? 30);

const { client, stop } = await startBenchRuntime('tools');

try {
  const agent = await client.beta.agents.create({ name: 'bench-tools', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'bench-tools' });
  const newSession = async () => (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;

  const cold: number[] = [];
  for (let i = 0; i < COLD; i++) cold.push(await echoTurn(await newSession(), i));
  const warmSession = await newSession();
  await echoTurn(warmSession, -1);
  const warm: number[] = [];
  for (let i = 0; i < WARM; i++) warm.push(await echoTurn(warmSession, i));

  console.log('edgeharness hands benchmark — agent.tool_use → agent.tool_result for `echo`, local sandbox (bubblewrap)\n');
  console.log('                         samples | median ms |   p95 ms');
  console.log(`  cold (first call)     ${String(COLD).padStart(9)} | ${fmt(pct(cold, 50))} | ${fmt(pct(cold, 95))}`);
  console.log(`  warm                  ${String(WARM).padStart(9)} | ${fmt(pct(warm, 50))} | ${fmt(pct(warm, 95))}`);
} finally {
  await stop();
}

/** One turn that runs `echo`; returns the gap between the tool_use and tool_result events' processed_at. */
async function echoTurn(id: string, i: number): Promise<number> {
  const { use, result } = await timedToolTurn(client, id, `[[tool:bash {"command":"echo bench-${i}"}]]`, 'agent.tool');
  return result - use;
}

function fmt(n: number): string {
  return n.toFixed(0).padStart(9);
}
