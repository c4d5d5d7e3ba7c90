// Benchmark for outbound webhooks: the latency from a session going idle (the `session.status_idle` event's
// processed_at) to its `session.status_idled` delivery reaching an endpoint on loopback, for turns one at a time and
// for sessions going idle together. Real runtime (wrangler dev, Durable Objects), scripted model at zero latency.
// Prints numbers; asserts nothing.
import Anthropic from '@anthropic-ai/sdk';
import { percentile as pct } from './bench-runtime.ts';
import { startScriptedRuntime, turn } from '../test/support/scripted-runtime.ts';
import { startWebhookReceiver } from '../test/support/webhook-receiver.ts';

const RUNS = Number(process.env.BENCH_WEBHOOK_RUNS ?? 30);
const CONCURRENT = Number(process.env.BENCH_WEBHOOK_CONCURRENT ?? 20);

console.log('edgeharness webhooks benchmark — scripted model at zero latency, receiver on loopback\n');

const receiver = await startWebhookReceiver();
const run = await startScriptedRuntime('bench-webhooks', { apiKey: 'bench-key', model: { maxRecordedRequests: 5 } });
try {
  const admin = new Anthropic({ baseURL: run.runtime.url, apiKey: run.runtime.adminKey, maxRetries: 0 });
  const c = run.client;
  await admin.beta.organization.webhooks.create({ url: `${receiver.url}/hooks/bench`, enabled_events: ['session.status_idled'] as any });
  const agent = await c.beta.agents.create({ name: 'bench-webhooks', model: 'claude-sonnet-5-5' });
  const environment = await c.beta.environments.create({ name: 'bench-webhooks' });

  const oneSession = async (i: number): Promise<string> => {
    const s = await c.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const events = await turn(c, s.id, `hook ${i} [[reply:done]]`);
    const idle = events.findLast((e) => e.type === 'session.status_idle')!;
    idleAt.set(s.id, Date.parse(idle.processed_at));
    return s.id;
  };
  const idleAt = new Map<string, number>();
  const latencies = async (ids: string[]): Promise<number[]> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const got = new Map<string, number>();
      for (const r of receiver.received.get('bench') ?? []) got.set(JSON.parse(r.body).data.id, r.at);
      if (ids.every((id) => got.has(id)) || Date.now() > deadline) return ids.filter((id) => got.has(id)).map((id) => got.get(id)! - idleAt.get(id)!);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const sequential: string[] = [];
  for (let i = 0; i < RUNS; i++) sequential.push(await oneSession(i));
  const seq = await latencies(sequential);
  const together = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => oneSession(RUNS + i)));
  const con = await latencies(together);

  console.log('session.status_idle → delivery at the endpoint                     |  p50 ms |  p99 ms | delivered');
  console.log(`  ${String(RUNS).padStart(3)} sessions, one at a time                                    | ${fmt(pct(seq, 50))} | ${fmt(pct(seq, 99))} | ${seq.length}/${RUNS}`);
  console.log(`  ${String(CONCURRENT).padStart(3)} sessions at once                                          | ${fmt(pct(con, 50))} | ${fmt(pct(con, 99))} | ${con.length}/${CONCURRENT}`);
  console.log('');
} finally {
  await run.stop();
  await receiver.close();
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(7);
}
