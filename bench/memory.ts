// Benchmark for memory stores mounted in a session: the latency of reading a memory through the mount (`cat`) and of
// writing one (the file written, then saved as a memory with its version before the tool result is appended),
// against the same command in a session without a mount. Measured on the tool call itself (agent.tool_use →
// agent.tool_result in the log: mount sync, the run, the collect and the save) and on the whole turn as the client
// sees it. Real runtime (wrangler dev, Durable Objects, brain, local sandbox host). Prints numbers; asserts nothing.
import type Anthropic from '@anthropic-ai/sdk';
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';

const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 20);
const MEMORIES = Number(process.env.BENCH_MEMORY_COUNT ?? 20);

console.log(`edgeharness memory benchmark — a store of ${MEMORIES} memories mounted read_write, ${RUNS} runs, scripted model at zero latency\n`);

const { client, stop } = await startBenchRuntime('memory');
try {
  const agent = await client.beta.agents.create({ name: 'bench-memory', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'bench-memory' });
  const store = await client.beta.memoryStores.create({ name: 'Bench Notes' });
  for (let i = 0; i < MEMORIES; i++) await client.beta.memoryStores.memories.create(store.id, { path: `/notes/${i}.md`, content: `note ${i}\n`.repeat(20) });
  const mounted = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'memory_store', memory_store_id: store.id }] })).id;
  const plain = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
  // warm both sandboxes: the first call starts one
  await bash(client, mounted, 'true');
  await bash(client, plain, 'true');

  const rows: Array<[string, number[], number[]]> = [];
  const measure = async (label: string, session: string, command: (i: number) => string) => {
    const call: number[] = [];
    const turn: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await bash(client, session, command(i));
      call.push(r.callMs);
      turn.push(r.turnMs);
    }
    rows.push([label, call, turn]);
  };
  await measure('read: cat a memory through the mount', mounted, (i) => `cat /mnt/memory/bench-notes/notes/${i % MEMORIES}.md`);
  await measure('write: a file saved as a memory', mounted, (i) => `printf 'written ${i}' > /mnt/memory/bench-notes/written.md`);
  await measure('same cat, session without a mount', plain, () => 'cat /etc/hostname');
  await measure('same write, session without a mount', plain, (i) => `printf 'written ${i}' > written.md`);

  const versions = (await client.beta.memoryStores.memoryVersions.list(store.id, { limit: 100 })).data.filter((v) => v.created_by?.type === 'session_actor');
  console.log('                                          |   tool call (log)  |  turn (client)');
  console.log('                                          |  p50 ms |  p95 ms  |  p50 ms |  p95 ms');
  for (const [label, call, turn] of rows)
    console.log(`  ${label.padEnd(40)}| ${fmt(pct(call, 50))} | ${fmt(pct(call, 95))}  | ${fmt(pct(turn, 50))} | ${fmt(pct(turn, 95))}`);
  console.log(`\n  versions written by the session: ${versions.length} (one per write run)`);
  console.log("  (the log's timestamps are the Worker's clock, which moves only across I/O: a short span can read 0 ms)\n");
} finally {
  await stop();
}

/** One bash call in one turn: the client-observed turn and the call's span in the log (tool_use → tool_result). */
async function bash(c: Anthropic, id: string, command: string): Promise<{ turnMs: number; callMs: number }> {
  const stream = await c.beta.sessions.events.stream(id);
  const t0 = performance.now();
  await c.beta.sessions.events.send(id, { events: [{ type: 'user.message', content: [{ type: 'text', text: `[[tool:bash ${JSON.stringify({ command })}]]` }] }] });
  let useAt = 0;
  let resultAt = 0;
  for await (const ev of stream) {
    if (ev.type === 'agent.tool_use') useAt = Date.parse(ev.processed_at);
    if (ev.type === 'agent.tool_result') resultAt = Date.parse(ev.processed_at);
    if (ev.type === 'session.status_idle') break;
  }
  return { turnMs: performance.now() - t0, callMs: resultAt - useAt };
}

function fmt(n: number): string {
  return n.toFixed(0).padStart(7);
}
