// Benchmark for telemetry export: the harness overhead per turn with no telemetry destination and with one enabled
// destination covering every workspace, and how many spans per second one destination absorbs when many sessions end
// turns at once, with the lag from a turn's idle to its spans reaching the collector. Real runtime (wrangler dev,
// Durable Objects, TelemetryOutbox), scripted model at zero latency, an OTLP/HTTP receiver on loopback answering 200.
// Prints numbers; asserts nothing.
import Anthropic from '@anthropic-ai/sdk';
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';
import { timedTurn } from './timed-turn.ts';
import { turn } from '../test/support/scripted-runtime.ts';
import { startWebhookReceiver, type Received } from '../test/support/webhook-receiver.ts';

const WARMUP = Number(process.env.BENCH_TELEMETRY_WARMUP ?? 20);
const TURNS = Number(process.env.BENCH_TELEMETRY_TURNS ?? 200);
/** Off and on alternate in this many blocks of TURNS / BLOCKS turns each. */
const BLOCKS = 10;
const SESSIONS = Number(process.env.BENCH_TELEMETRY_SESSIONS ?? 8);
const TURNS_PER_SESSION = Number(process.env.BENCH_TELEMETRY_SESSION_TURNS ?? 25);
const DRAIN_TIMEOUT_MS = 60_000;
/** The receiver's name: the destination posts to `<receiver>/hooks/otlp/v1/traces`. */
const HOOK = 'otlp';

console.log('edgeharness telemetry benchmark — scripted model at zero latency, OTLP receiver on loopback\n');

const receiver = await startWebhookReceiver();
// npm start's runtime allows a collector on loopback over http (EDGEHARNESS_TELEMETRY_ALLOW_PRIVATE, scripts/runtime.ts).
const { client, url, adminKey, stop } = await startBenchRuntime('telemetry');
try {
  const admin = new Anthropic({ baseURL: url, apiKey: adminKey, maxRetries: 0 });
  const agent = await client.beta.agents.create({ name: 'bench-telemetry', model: 'claude-sonnet-5-5', system: 'Benchmark agent.' });
  const environment = await client.beta.environments.create({ name: 'bench-telemetry' });
  const newSession = async () => (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;

  // ---- overhead per turn, telemetry off vs on ----
  // Off and on alternate in blocks, each mode on its own session, so drift on a shared machine (other load, the
  // runtime warming up) falls on both alike; "off" has no destination at all, "on" one created for the block.
  const sessions = { off: await newSession(), on: await newSession() };
  for (let t = 0; t < WARMUP; t++) for (const id of Object.values(sessions)) await timedTurn(client, id, `warm-up ${t}`);
  const overhead: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let b = 0; b < BLOCKS; b++) {
    for (const mode of ['off', 'on'] as const) {
      const destination =
        mode === 'on' ? await admin.beta.organization.telemetryDestinations.create({ endpoint_url: `${receiver.url}/hooks/${HOOK}`, workspaces: { type: 'all' } }) : null;
      for (let t = 0; t < TURNS / BLOCKS; t++) {
        const s = await timedTurn(client, sessions[mode], `${mode} block ${b} turn ${t}`);
        overhead[mode].push(s.total - s.model);
      }
      if (destination) {
        await quiet(() => received().length, 500); // deleting a destination drops its queue: let it drain first
        await admin.beta.organization.telemetryDestinations.delete(destination.id);
      }
    }
  }
  const { off, on } = overhead;
  const onSpans = spansIn(received()).length;

  console.log(`harness overhead per turn (turn wall time − model-request span), ${TURNS} turns per mode in ${BLOCKS} alternating blocks, after ${WARMUP} warm-up`);
  console.log('  telemetry                                  | overhead p50 ms | overhead p95 ms | spans received');
  console.log(`  off (no destination)                       | ${fmt(pct(off, 50), 15)} | ${fmt(pct(off, 95), 15)} | ${'—'.padStart(14)}`);
  console.log(`  on (one destination, all workspaces)       | ${fmt(pct(on, 50), 15)} | ${fmt(pct(on, 95), 15)} | ${String(onSpans).padStart(14)}`);
  console.log(`  ratio on/off                               | ${ratio(pct(on, 50), pct(off, 50)).padStart(15)} | ${ratio(pct(on, 95), pct(off, 95)).padStart(15)} |`);
  console.log('');

  // ---- spans per second one destination absorbs ----
  await admin.beta.organization.telemetryDestinations.create({ endpoint_url: `${receiver.url}/hooks/${HOOK}`, workspaces: { type: 'all' } });
  const before = received().length;
  const idles: Array<{ id: string; at: number }> = [];
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: SESSIONS }, async (_, s) => {
      const id = await newSession();
      for (let t = 0; t < TURNS_PER_SESSION; t++) {
        const events = await turn(client, id, `burst ${s}.${t} [[reply:ok]]`);
        const idle = events.findLast((e) => e.type === 'session.status_idle')!;
        idles.push({ id: idle.id, at: Date.parse(idle.processed_at) });
      }
    }),
  );
  const lastIdle = Math.max(...idles.map((i) => i.at));
  const arrivals = await arrivalsOf(new Set(idles.map((i) => i.id)), () => received().slice(before));
  const bodies = received().slice(before);
  const spans = spansIn(bodies).length;
  const first = bodies[0]?.at ?? NaN;
  const last = bodies.at(-1)?.at ?? NaN;
  const lags = idles.filter((i) => arrivals.has(i.id)).map((i) => arrivals.get(i.id)! - i.at);
  const lastTurn = idles.find((i) => i.at === lastIdle)!;

  console.log(`spans one destination absorbs: ${SESSIONS} sessions in parallel, ${TURNS_PER_SESSION} simple-reply turns each (${idles.length} turns)`);
  console.log(`  turns ended in ${((lastIdle - t0) / 1000).toFixed(1)} s: ${rate(spans, lastIdle - t0)} spans/s produced`);
  const largest = Math.max(...bodies.map((b) => spansIn([b]).length));
  console.log(`  received: ${spans} spans in ${bodies.length} requests (largest ${largest}), ${rate(spans, last - first)} spans/s from first to last arrival`);
  console.log('  lag = arrival at the receiver of the span ending with a turn\'s session.status_idle − that event\'s processed_at');
  console.log(`  lag p50 ${fmt(pct(lags, 50), 0)} ms | p95 ${fmt(pct(lags, 95), 0)} ms | last turn ${arrivals.has(lastTurn.id) ? fmt(arrivals.get(lastTurn.id)! - lastTurn.at, 0) : 'never'} ms | turns whose spans arrived ${lags.length}/${idles.length}`);
  console.log('');
} finally {
  await stop();
  await receiver.close();
}

function received(): Received[] {
  return receiver.received.get(HOOK) ?? [];
}

interface OtlpSpan {
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}

/** The spans of OTLP/HTTP JSON trace requests. */
function spansIn(bodies: Received[]): OtlpSpan[] {
  return bodies.flatMap((b) => {
    const body = JSON.parse(b.body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
    return body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  });
}

/** When a span whose `edgeharness.end_event.id` is each of `ids` first arrived; waits until all have, or the timeout. */
async function arrivalsOf(ids: Set<string>, bodies: () => Received[]): Promise<Map<string, number>> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const seen = new Map<string, number>();
    for (const b of bodies())
      for (const s of spansIn([b])) {
        const end = s.attributes?.find((a) => a.key === 'edgeharness.end_event.id')?.value.stringValue;
        if (end && ids.has(end) && !seen.has(end)) seen.set(end, b.at);
      }
    if (seen.size === ids.size || Date.now() > deadline) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until `count` has not grown for `ms` (the queue has drained), or the drain timeout. */
async function quiet(count: () => number, ms: number): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let n = count();
  let since = Date.now();
  while (Date.now() - since < ms && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (count() !== n) [n, since] = [count(), Date.now()];
  }
}

function rate(n: number, ms: number): string {
  return ms > 0 ? (n / (ms / 1000)).toFixed(0) : 'n/a';
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

function fmt(n: number, width: number): string {
  return n.toFixed(1).padStart(width);
}
