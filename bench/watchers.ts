// Benchmark for live watchers: many WebSockets on one session's stream, the latency of one event reaching all of
// them (from just before its POST to each socket's receipt), and the memory the sockets cost: the Worker isolate's
// JS heap (which holds the session's Durable Object) read through the DevTools inspector, and the RSS of the
// workerd processes. Real runtime (wrangler dev, Durable Objects), scripted model at zero latency. Prints numbers;
// asserts nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { percentile as pct } from './bench-runtime.ts';
import { startScriptedRuntime } from '../test/support/scripted-runtime.ts';

const WATCHERS = Number(process.env.WATCHERS ?? 1000);
const ROUNDS = Number(process.env.BENCH_WATCHER_ROUNDS ?? 5);
/** Sockets opening at once: enough to be quick, few enough not to time out the handshakes of the last. */
const OPENING = 50;

interface Watcher {
  ws: WebSocket;
  /** performance.now() at which each event id arrived. */
  arrivals: Map<string, number>;
}

console.log(`edgeharness watchers benchmark — ${WATCHERS} WebSockets on one session, ${ROUNDS} events, local workerd\n`);

// as startBenchRuntime, plus the inspector (loopback only) the heap is read through
const run = await startScriptedRuntime('bench-watchers', {
  apiKey: 'bench-key',
  workerVars: { EDGEHARNESS_RATE_LIMIT_PER_MINUTE: '0' },
  model: { maxRecordedRequests: 5 },
  inspectorPort: 0,
});
const { client } = run;
const { url, apiKey, inspectorUrl } = run.runtime;
const watchers: Watcher[] = [];
try {
  const agent = await client.beta.agents.create({ name: 'bench-watchers', model: 'claude-sonnet-5-5' });
  const environment = await client.beta.environments.create({ name: 'bench-watchers' });
  const id = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
  // one token opens every socket: it is bound to the session, not to one connection
  const minted = await fetch(`${url}/v1/sessions/${id}/stream_tokens`, {
    method: 'POST',
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl_seconds: 3600 }),
  });
  const { token } = (await minted.json()) as { token: string };
  const streamUrl = `${url.replace(/^http/, 'ws')}/v1/sessions/${id}/events/stream?token=${encodeURIComponent(token)}`;

  // the session's Durable Object is awake, and its append and stream paths warm, before the baseline is read
  for (let i = 0; i < 5; i++) await post(id);
  await Promise.all(Array.from({ length: 10 }, () => open(streamUrl)));
  await Promise.all(watchers.splice(0).map((w) => close(w.ws)));
  await delay(500);
  const before = { rss: workerdRss(), heap: await workerHeap() };

  const t0 = performance.now();
  for (let i = 0; i < WATCHERS; i += OPENING) {
    await Promise.all(Array.from({ length: Math.min(OPENING, WATCHERS - i) }, () => open(streamUrl)));
  }
  const openMs = performance.now() - t0;
  // open on our side does not prove the Durable Object has accepted the socket: one event reaching all does
  const registered = await post(id);
  await allReceived(registered, 30_000);
  await delay(500);
  const after = { rss: workerdRss(), heap: await workerHeap() };

  // a user.interrupt on an idle session is appended and broadcast and starts no turn: nothing else is on the wire
  const rounds: number[][] = [];
  const acks: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const sent = performance.now();
    const eventId = await post(id);
    acks.push(performance.now() - sent);
    await allReceived(eventId, 30_000);
    rounds.push(watchers.map((w) => w.arrivals.get(eventId)! - sent));
    await delay(200);
  }

  console.log(`opening ${WATCHERS} sockets (${OPENING} at a time): ${openMs.toFixed(0)} ms\n`);
  console.log('one event → every watcher, ms from just before the POST | first  |  p50   |  p99   |  max (last) | POST answered');
  const row = (label: string, ms: number[], ack: number) =>
    console.log(`  ${label.padEnd(53)}| ${fmt(Math.min(...ms))} | ${fmt(pct(ms, 50))} | ${fmt(pct(ms, 99))} | ${fmt(Math.max(...ms))}     | ${fmt(ack)}`);
  rounds.forEach((ms, r) => row(`round ${r + 1}`, ms, acks[r]!));
  row(`all ${ROUNDS} rounds (POST: p50)`, rounds.flat(), pct(acks, 50));
  console.log('  (receipt is timed in this one Node process, which reads every socket and shares the 2 cores with workerd)\n');

  await Promise.all(watchers.map((w) => close(w.ws)));
  await delay(1000);
  const closed = { rss: workerdRss(), heap: await workerHeap() };

  console.log('memory                                    | before the sockets | with them open | after closing | per watcher (open − before)');
  const mem = (label: string, of: (m: typeof before) => number) =>
    console.log(`  ${label.padEnd(40)}| ${mib(of(before)).padStart(18)} | ${mib(of(after)).padStart(14)} | ${mib(of(closed)).padStart(13)} | ${kib((of(after) - of(before)) / WATCHERS)}`);
  mem('JS heap of the Worker isolate, after GC', (m) => m.heap);
  mem(`RSS of the runtime's workerd processes`, (m) => total(m.rss));
  console.log(`  (the isolate runs the Worker and its Durable Objects, the session's among them: its heap bounds what the`);
  console.log(`   session's object holds in JS. RSS counts whole processes, native socket state included, and wrangler's dev`);
  console.log(`   proxy among them: an upper bound for the object. With the sockets open: ${perProcess(after.rss)})\n`);
} finally {
  for (const w of watchers) w.ws.close();
  await run.stop();
}

/** Posts one event that starts no turn; answers its id. */
async function post(session: string): Promise<string> {
  const sent = await client.beta.sessions.events.send(session, { events: [{ type: 'user.interrupt' }] });
  const eventId = sent.data?.[0]?.id;
  if (!eventId) throw new Error('the send answered no event');
  return eventId;
}

function open(streamUrl: string): Promise<void> {
  const w: Watcher = { ws: new WebSocket(streamUrl), arrivals: new Map() };
  const n = watchers.push(w);
  w.ws.addEventListener('message', (m: MessageEvent) => {
    const at = performance.now();
    // the id is all we need: a regex is cheaper than parsing a thousand copies of the event
    const eventId = /"id":"([^"]+)"/.exec(String(m.data))?.[1];
    if (eventId) w.arrivals.set(eventId, at);
  });
  return new Promise((resolve, reject) => {
    w.ws.addEventListener('open', () => resolve());
    w.ws.addEventListener('error', () => reject(new Error(`watcher ${n} did not open`)));
  });
}

function close(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.addEventListener('close', () => resolve());
    ws.close(1000);
  });
}

async function allReceived(eventId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!watchers.every((w) => w.arrivals.has(eventId))) {
    if (Date.now() > deadline) throw new Error(`${watchers.filter((w) => !w.arrivals.has(eventId)).length} watchers never received ${eventId}`);
    await delay(5);
  }
}

/**
 * The Worker isolate's JS heap after a full collection, through the DevTools inspector. The inspector proxy
 * accepts only a browser-like client: it wants an Origin header (Node's WebSocket takes headers as an extension).
 */
async function workerHeap(): Promise<number> {
  const inspector = new WebSocket(`${inspectorUrl}/ws`, { headers: { origin: 'http://127.0.0.1' } } as unknown as string[]);
  await new Promise((resolve, reject) => {
    inspector.addEventListener('open', resolve);
    inspector.addEventListener('error', () => reject(new Error('the inspector did not open')));
  });
  let next = 0;
  const call = (method: string) =>
    new Promise<{ result?: { usedSize?: number } }>((resolve) => {
      const callId = ++next;
      inspector.addEventListener('message', function answered(m: MessageEvent) {
        const reply = JSON.parse(String(m.data)) as { id?: number; result?: { usedSize?: number } };
        if (reply.id !== callId) return;
        inspector.removeEventListener('message', answered);
        resolve(reply);
      });
      inspector.send(JSON.stringify({ id: callId, method }));
    });
  await call('HeapProfiler.collectGarbage');
  const used = (await call('Runtime.getHeapUsage')).result?.usedSize ?? NaN;
  // the proxy never answers a close handshake: waiting for one would hang
  inspector.close();
  return used;
}

/** The resident memory (bytes) of each workerd process descending from this one (the runtime's children), by pid. */
function workerdRss(): Map<number, number> {
  const parent = new Map<number, number>();
  const workerd: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pid = Number(entry);
      // the command name is in parentheses and may hold spaces: the fields follow the last ')'
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'workerd') workerd.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  const ours = workerd.filter((pid) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  });
  const rss = new Map<number, number>();
  for (const pid of ours) {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    rss.set(pid, Number(kib ?? 0) * 1024);
  }
  return rss;
}

function total(rss: Map<number, number>): number {
  return [...rss.values()].reduce((a, b) => a + b, 0);
}

function perProcess(rss: Map<number, number>): string {
  return [...rss].map(([pid, bytes]) => `pid ${pid}: ${mib(bytes)}`).join(', ');
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(7);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
