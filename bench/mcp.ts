// Benchmark for MCP tool calls: the harness's overhead per call, i.e. the gap between the agent.mcp_tool_use and
// agent.mcp_tool_result events' processed_at minus the time the MCP server itself spent on the requests it served in
// that gap (the test server times each one). Real runtime, bearer-protected server on 127.0.0.2 with the token from
// a vault static_bearer credential, scripted model at zero latency. Prints median and p95; asserts nothing.
import { startMcpServer, type ServedRequest } from '../test/support/mcp-server.ts';
import { percentile as pct, startBenchRuntime } from './bench-runtime.ts';
import { timedToolTurn } from './tool-turn.ts';

const CALLS = Number(process.env.BENCH_MCP_CALLS ?? 50);
const WARMUP = 3;
const TOKEN = `mcp_bench_${crypto.randomUUID().replace(/-/g, '')}`;

const mcp = await startMcpServer(TOKEN);
const { client, stop } = await startBenchRuntime('mcp');

try {
  const vault = await client.beta.vaults.create({ display_name: 'bench-mcp' });
  await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', token: TOKEN, mcp_server_url: mcp.url } });
  const agent = await client.beta.agents.create({
    name: 'bench-mcp',
    model: 'claude-sonnet-5-5',
    mcp_servers: [{ type: 'url', name: 'orders', url: mcp.url }],
    tools: [{ type: 'mcp_toolset', mcp_server_name: 'orders', default_config: { permission_policy: { type: 'always_allow' } } }],
  });
  const environment = await client.beta.environments.create({ name: 'bench-mcp' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, vault_ids: [vault.id] });

  for (let i = 0; i < WARMUP; i++) await mcpTurn(session.id, `warm-${i}`);
  const samples: Array<{ gap: number; server: number; requests: number; methods: string }> = [];
  for (let i = 0; i < CALLS; i++) {
    const { use, result } = await mcpTurn(session.id, `bench-${i}`);
    // processed_at has millisecond resolution: widen the window by that much so a request at its edge counts
    const inGap = (await served()).filter((r) => r.startedAt >= use - 1 && r.startedAt <= result + 1);
    const server = inGap.reduce((sum, r) => sum + r.ms, 0);
    samples.push({ gap: result - use, server, requests: inGap.length, methods: inGap.map((r) => r.method).join(', ') });
  }

  const overhead = samples.map((s) => s.gap - s.server);
  console.log(`edgeharness MCP benchmark — agent.mcp_tool_use → agent.mcp_tool_result for \`lookup_order\`, ${CALLS} calls in one session`);
  console.log('(server: official SDK McpServer, stateless streamable HTTP on 127.0.0.2, bearer from a vault static_bearer credential)\n');
  console.log('                          median ms |   p95 ms');
  console.log(`  use → result          ${fmt(pct(samples.map((s) => s.gap), 50))} | ${fmt(pct(samples.map((s) => s.gap), 95))}`);
  console.log(`  server's own time     ${fmt(pct(samples.map((s) => s.server), 50))} | ${fmt(pct(samples.map((s) => s.server), 95))}`);
  console.log(`  overhead (difference) ${fmt(pct(overhead, 50))} | ${fmt(pct(overhead, 95))}`);
  console.log(`  MCP requests per call: median ${pct(samples.map((s) => s.requests), 50)}, max ${Math.max(...samples.map((s) => s.requests))} (last: ${samples.at(-1)?.methods})`);
} finally {
  await stop();
  await mcp.close();
}

/** One turn whose model calls `lookup_order`; the use and result events' processed_at, as epoch ms. */
function mcpTurn(id: string, order: string): Promise<{ use: number; result: number }> {
  return timedToolTurn(client, id, `[[tool:lookup_order {"order_id":"${order}"}]]`, 'agent.mcp_tool');
}

async function served(): Promise<ServedRequest[]> {
  const r = await fetch(new URL('/_requests', mcp.url));
  return ((await r.json()) as { requests: ServedRequest[] }).requests;
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(9);
}
