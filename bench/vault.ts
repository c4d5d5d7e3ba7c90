// Benchmark for the vault's egress path: the added latency of one proxied request whose Authorization header
// carries a credential placeholder (substituted by the proxy) versus the same request from a session without
// credentials (no TLS termination, no request filter). Local sandbox host (bubblewrap); curl inside the sandbox
// times each request itself (`%{time_total}`), so the numbers hold the proxy path only. Asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandboxHost } from '../sandbox/local/host.ts';
import { placeholderFor, type SandboxCredential } from '../sandbox/credentials.ts';
import type { Networking, SandboxSpec } from '../sandbox/hands.ts';
import { percentile as pct } from './bench-runtime.ts';

const REQUESTS = Number(process.env.BENCH_VAULT_REQUESTS ?? 200);
const HOST = '127.0.0.2';
const SECRET = 'bench-secret-value';

const upstream = createServer((req, res) => {
  req.resume();
  res.end(req.headers.authorization === `Bearer ${SECRET}` ? 'ok' : 'placeholder');
});
await new Promise<void>((resolve) => upstream.listen(0, HOST, resolve));
const port = (upstream.address() as AddressInfo).port;

const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-bench-vault-'));
const secret = 'bench-sandbox-secret';
const host = await startSandboxHost({ stateDir, secret });

const networking: Networking = { type: 'limited', allowed_hosts: [HOST], allow_package_managers: false, allow_mcp_servers: false };
const credential: SandboxCredential = {
  credentialId: 'vcrd_bench',
  vaultId: 'vlt_bench',
  name: 'TOKEN',
  placeholder: placeholderFor('vcrd_bench'),
  value: SECRET,
  networking: { type: 'limited', allowed_hosts: [HOST] },
  injection: { header: true, body: false },
};

/** Runs `REQUESTS` curls in one bash call and returns each request's time in ms, plus what the upstream answered. */
async function measure(sessionId: string, credentials: SandboxCredential[], header: string): Promise<{ ms: number[]; answers: Set<string> }> {
  const spec: SandboxSpec = { sessionId, workspaceId: 'wrkspc_bench', environmentId: 'env_bench', networking, credentials };
  const command =
    `for i in $(seq ${REQUESTS + 5}); do curl -s -o /dev/null -w '%{time_total} %{http_code}\\n' ` +
    `-H "Authorization: Bearer ${header}" http://${HOST}:${port}/; done; curl -s -H "Authorization: Bearer ${header}" http://${HOST}:${port}/`;
  const response = await fetch(`${host.url}/v1/sandboxes/${sessionId}/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ spec, call: { name: 'bash', input: { command }, idempotencyKey: `${sessionId}-run`, timeoutMs: 600_000 } }),
  });
  const outcome = (await response.json()) as { content: Array<{ text: string }>; isError: boolean };
  const text = outcome.content.map((b) => b.text).join('');
  if (outcome.isError) throw new Error(`bench call failed: ${text}`);
  const lines = text.trim().split('\n');
  const answer = lines.pop() ?? '';
  const ms = lines
    .map((l) => /^([\d.]+) (\d{3})/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null && m[2] === '200')
    .map((m) => Number(m[1]) * 1000)
    .slice(5); // the first requests warm the proxy's connection handling
  return { ms, answers: new Set([answer.trim()]) };
}

try {
  const plain = await measure('sesn_bench_plain', [], 'no-credential');
  const substituted = await measure('sesn_bench_vault', [credential], '$TOKEN');
  console.log('edgeharness vault benchmark — one proxied HTTP request from the sandbox (curl time_total), local provider\n');
  console.log(`  upstream answered: without credentials "${[...plain.answers].join()}", with substitution "${[...substituted.answers].join()}" (ok = got the secret)\n`);
  console.log('                               samples | median ms |   p95 ms');
  console.log(`  no credentials (plain proxy) ${String(plain.ms.length).padStart(8)} | ${fmt(pct(plain.ms, 50))} | ${fmt(pct(plain.ms, 95))}`);
  console.log(`  placeholder substituted      ${String(substituted.ms.length).padStart(8)} | ${fmt(pct(substituted.ms, 50))} | ${fmt(pct(substituted.ms, 95))}`);
  console.log(`  added by substitution                 | ${fmt(pct(substituted.ms, 50) - pct(plain.ms, 50))} | ${fmt(pct(substituted.ms, 95) - pct(plain.ms, 95))}`);
} finally {
  await host.close();
  upstream.close();
  rmSync(stateDir, { recursive: true, force: true });
}

function fmt(n: number): string {
  return n.toFixed(2).padStart(9);
}
