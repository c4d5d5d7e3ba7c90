// Benchmark for harness discipline: the prompt-cache read ratio over a long scripted session, and the time to
// resume a session after a brain crash at 100, 10,000 and 100,000 events in the log. Real runtime (wrangler dev,
// Durable Objects, brain) against the scripted model at zero latency, which accounts prompt caching by prefix.
// Prints numbers; asserts nothing.
import type Anthropic from '@anthropic-ai/sdk';
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';
import { faultWorkerEntry } from '../test/support/faults.ts';

const TURNS = Number(process.env.BENCH_CACHE_TURNS ?? 100);
const TAIL_TURNS = 50;
const LOG_SIZES = [100, 10_000, 100_000];
const CRASHES_PER_SIZE = Number(process.env.BENCH_CRASHES ?? 5);
const LEASE_MS = 300;
const BATCH = 100;

type Client = Anthropic;

console.log('edgeharness harness benchmark — scripted model at zero latency\n');

// ---- cache-read ratio ----
{
  const { client, stop } = await startBenchRuntime('harness-cache');
  try {
    const system = systemPrompt(2048);
    const agent = await client.beta.agents.create({ name: 'bench-cache', model: 'claude-sonnet-5-5', system });
    const environment = await client.beta.environments.create({ name: 'bench-cache' });
    const id = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
    for (let t = 0; t < TURNS; t++) await turn(client, id, `turn ${t}: tell me something about the number ${t}`);

    const usages: Usage[] = [];
    for await (const ev of client.beta.sessions.events.list(id, { types: ['span.model_request_end'], limit: 100 })) {
      if (ev.type === 'span.model_request_end') usages.push(ev.model_usage);
    }
    const all = sumUsage(usages);
    const tail = sumUsage(usages.slice(-TAIL_TURNS));
    console.log(`prompt cache over a ${TURNS}-turn session (system prompt ${system.length} chars, ${usages.length} model requests)`);
    console.log('                     | input tokens (all) | cache reads | cache writes | uncached | read ratio');
    console.log(`  all ${String(TURNS).padStart(3)} turns      | ${cacheRow(all)}`);
    console.log(`  last ${String(TAIL_TURNS).padStart(3)} turns     | ${cacheRow(tail)}`);
    console.log('');
  } finally {
    await stop();
  }
}

// ---- context size per turn with compaction ----
{
  const COMPACTION_TURNS = Number(process.env.BENCH_COMPACTION_TURNS ?? 200);
  const TRIGGER = 6000;
  const { client, stop } = await startBenchRuntime('harness-compaction');
  try {
    const agent = await client.beta.agents.create({ name: 'bench-compaction', model: 'claude-sonnet-5-5', system: systemPrompt(1024) });
    const environment = await client.beta.environments.create({ name: 'bench-compaction' });
    const id = (
      await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, compaction: { trigger_tokens: TRIGGER } } as Anthropic.Beta.SessionCreateParams)
    ).id;
    const filler = 'context '.repeat(100);
    for (let t = 0; t < COMPACTION_TURNS; t++) await turn(client, id, `turn ${t}: ${filler} [[reply:noted ${t}]]`);
    const sizes: number[] = [];
    let compactions = 0;
    for await (const ev of client.beta.sessions.events.list(id, { limit: 1000 })) {
      if (ev.type === 'span.model_request_end') sizes.push(ev.model_usage.input_tokens + ev.model_usage.cache_read_input_tokens + ev.model_usage.cache_creation_input_tokens);
      if (ev.type === 'agent.thread_context_compacted') compactions++;
    }
    console.log(`context tokens per model request over a ${COMPACTION_TURNS}-turn session (compaction.trigger_tokens ${TRIGGER}; ${compactions} compactions)`);
    console.log('  turn  | ' + [1, 10, 50, 100, 150, 200].filter((n) => n <= sizes.length).map((n) => String(n).padStart(6)).join(' | ') + ' |    max');
    console.log('  tokens| ' + [1, 10, 50, 100, 150, 200].filter((n) => n <= sizes.length).map((n) => String(sizes[n - 1]).padStart(6)).join(' | ') + ` | ${String(Math.max(...sizes)).padStart(6)}`);
    console.log('');
  } finally {
    await stop();
  }
}

// ---- time to resume after a brain crash ----
{
  const { client, url, apiKey, stop } = await startBenchRuntime('harness-resume', { EDGEHARNESS_LEASE_MS: String(LEASE_MS) }, faultWorkerEntry());
  try {
    const agent = await client.beta.agents.create({ name: 'bench-resume', model: 'claude-sonnet-5-5', system: 'Benchmark agent.' });
    const environment = await client.beta.environments.create({ name: 'bench-resume' });

    console.log(`resume after a brain crash (killed after session.status_running, lease ${LEASE_MS} ms, ${CRASHES_PER_SIZE} crashes per size)`);
    console.log('  resume = processed_at(span.model_request_start) − processed_at(session.status_running) − lease');
    console.log('  events in log | pad s | resume p50 ms | resume p95 ms | gap p50 ms | gap p95 ms');
    for (const size of LOG_SIZES) {
      const id = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
      const t0 = performance.now();
      await pad(client, id, size);
      const padSeconds = (performance.now() - t0) / 1000;
      const gaps: number[] = [];
      for (let i = 0; i < CRASHES_PER_SIZE; i++) {
        await injectFault(url, apiKey, id, 'after_running');
        const { running, requestStart } = await turn(client, id, `crash ${i}`);
        gaps.push(Date.parse(requestStart) - Date.parse(running));
      }
      const resume = gaps.map((g) => g - LEASE_MS);
      console.log(
        `  ${String(size).padStart(13)} | ${padSeconds.toFixed(1).padStart(5)} | ${fmt(pct(resume, 50), 13)} | ${fmt(pct(resume, 95), 13)} | ${fmt(pct(gaps, 50), 10)} | ${fmt(pct(gaps, 95), 10)}`,
      );
    }
    console.log('');
  } finally {
    await stop();
  }
}

type Usage = Anthropic.Beta.Sessions.BetaManagedAgentsSpanModelUsage;

interface CacheTotals {
  input: number;
  reads: number;
  writes: number;
  uncached: number;
}

function sumUsage(usages: Usage[]): CacheTotals {
  const t: CacheTotals = { input: 0, reads: 0, writes: 0, uncached: 0 };
  for (const u of usages) {
    const reads = u.cache_read_input_tokens;
    const writes = u.cache_creation_input_tokens;
    t.uncached += u.input_tokens;
    t.reads += reads;
    t.writes += writes;
    t.input += u.input_tokens + reads + writes;
  }
  return t;
}

function cacheRow(t: CacheTotals): string {
  const ratio = t.input > 0 ? `${((100 * t.reads) / t.input).toFixed(1)}%` : 'n/a';
  return `${String(t.input).padStart(18)} | ${String(t.reads).padStart(11)} | ${String(t.writes).padStart(12)} | ${String(t.uncached).padStart(8)} | ${ratio.padStart(10)}`;
}

/** A deterministic system prompt of about `chars` characters. */
function systemPrompt(chars: number): string {
  const rules = [
    'You are a careful, concise assistant working inside a benchmark.',
    'Answer the question asked and nothing else; prefer short, direct sentences.',
    'When a number is mentioned, state one true fact about it if you know one.',
    'Never invent tool results; say so when you do not know something.',
    'Keep a neutral tone, avoid filler, and do not repeat the question back.',
  ];
  let text = '';
  for (let i = 0; text.length < chars; i++) text += `${i + 1}. ${rules[i % rules.length]}\n`;
  return text.slice(0, chars);
}

/** Appends `size` user.interrupt events (not model context: an idle session just records them). */
async function pad(client: Client, id: string, size: number): Promise<void> {
  for (let left = size; left > 0; left -= BATCH) {
    const n = Math.min(BATCH, left);
    await client.beta.sessions.events.send(id, { events: Array.from({ length: n }, () => ({ type: 'user.interrupt' as const })) });
  }
}

async function injectFault(url: string, apiKey: string, id: string, point: string): Promise<void> {
  const r = await fetch(`${url}/v1/sessions/${id}/_faults`, {
    method: 'POST',
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ points: [point] }),
  });
  if (!r.ok) throw new Error(`fault injection failed: ${r.status} ${await r.text()}`);
}

/** One turn: send a message, wait for idle on the live stream; returns the turn's status_running and model_request_start times. */
async function turn(client: Client, id: string, text: string): Promise<{ running: string; requestStart: string }> {
  const stream = await client.beta.sessions.events.stream(id);
  await client.beta.sessions.events.send(id, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
  let running = '';
  let requestStart = '';
  for await (const ev of stream) {
    if (ev.type === 'session.status_running' && !running) running = ev.processed_at;
    if (ev.type === 'span.model_request_start' && !requestStart) requestStart = ev.processed_at;
    if (ev.type === 'session.status_idle') break;
  }
  return { running, requestStart };
}

function fmt(n: number, width: number): string {
  return n.toFixed(0).padStart(width);
}
