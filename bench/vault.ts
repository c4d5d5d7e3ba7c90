// Benchmark for the vault's egress path: the added latency of one proxied request whose Authorization header
// carries a credential placeholder (substituted, and the response scrubbed, by the launcher's credential proxy)
// versus the same request from a session without credentials (sandbox-runtime's proxy alone, HTTPS tunnelled
// untouched), over plain HTTP to loopback and over HTTPS (where the credential proxy terminates TLS and dials the
// upstream itself). Local sandbox host (bubblewrap); curl inside the sandbox times each request itself
// (`%{time_total}`), so the numbers hold the proxy path only. Asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandboxHost } from '../sandbox/local/host.ts';
import { placeholderFor, type SandboxCredential } from '../sandbox/credentials.ts';
import type { Networking, SandboxSpec } from '../sandbox/hands.ts';
import { percentile as pct } from './bench-runtime.ts';

const REQUESTS = Number(process.env.BENCH_VAULT_REQUESTS ?? 200);
const HOST = '127.0.0.2';
const TLS_HOST = '127.0.0.4';
const SECRET = 'bench-secret-value';

const answer: RequestListener = (req, res) => {
  req.resume();
  res.end(req.headers.authorization === `Bearer ${SECRET}` ? 'ok' : 'placeholder');
};
const upstream = createServer(answer);
await new Promise<void>((resolve) => upstream.listen(0, HOST, resolve));
const port = (upstream.address() as AddressInfo).port;

const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-bench-vault-'));
// An HTTPS upstream with a certificate of its own; the credential proxy trusts it through NODE_EXTRA_CA_CERTS,
// which the sandbox launcher inherits from this process.
const certFile = path.join(stateDir, 'cert.pem');
const keyFile = path.join(stateDir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
  '-days', '2', '-subj', `/CN=${TLS_HOST}`, '-addext', `subjectAltName=IP:${TLS_HOST}`], { stdio: 'ignore' });
process.env.NODE_EXTRA_CA_CERTS = certFile;
const tlsUpstream = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, answer);
await new Promise<void>((resolve) => tlsUpstream.listen(0, TLS_HOST, resolve));
const tlsPort = (tlsUpstream.address() as AddressInfo).port;

const secret = 'bench-sandbox-secret';
const host = await startSandboxHost({ stateDir, secret });

const networking: Networking = { type: 'limited', allowed_hosts: [HOST, TLS_HOST], allow_package_managers: false, allow_mcp_servers: false };
const credential: SandboxCredential = {
  credentialId: 'vcrd_bench',
  vaultId: 'vlt_bench',
  name: 'TOKEN',
  placeholder: placeholderFor('vcrd_bench'),
  value: SECRET,
  networking: { type: 'limited', allowed_hosts: [HOST, TLS_HOST] },
  injection: { header: true, body: false },
};

/** Runs `REQUESTS` curls in one bash call and returns each request's time in ms, plus what the upstream answered. */
async function measure(sessionId: string, credentials: SandboxCredential[], header: string, url: string, curlFlags = ''): Promise<{ ms: number[]; answers: Set<string> }> {
  const spec: SandboxSpec = { sessionId, workspaceId: 'wrkspc_bench', environmentId: 'env_bench', networking, credentials };
  const curl = `curl -s ${curlFlags} -H "Authorization: Bearer ${header}"`;
  const command = `for i in $(seq ${REQUESTS + 5}); do ${curl} -o /dev/null -w '%{time_total} %{http_code}\\n' ${url}; done; ${curl} ${url}`;
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
  const httpUrl = `http://${HOST}:${port}/`;
  const httpsUrl = `https://${TLS_HOST}:${tlsPort}/`;
  // without credentials HTTPS is an opaque tunnel to the upstream, whose certificate the sandbox does not know (-k);
  // with credentials curl verifies the proxy's certificate against the bundle the sandbox is given
  const rows: Array<[string, Awaited<ReturnType<typeof measure>>]> = [
    ['http, no credentials', await measure('sesn_bench_plain', [], 'no-credential', httpUrl)],
    ['http, substituted', await measure('sesn_bench_vault', [credential], '$TOKEN', httpUrl)],
    ['https, no credentials', await measure('sesn_bench_plain_tls', [], 'no-credential', httpsUrl, '-k')],
    ['https, substituted', await measure('sesn_bench_vault_tls', [credential], '$TOKEN', httpsUrl)],
  ];
  console.log(`edgeharness vault benchmark — one proxied request from the sandbox (curl time_total), local provider, ${REQUESTS} requests each\n`);
  console.log('                          samples | median ms |   p95 ms | upstream got');
  for (const [name, r] of rows)
    console.log(`  ${name.padEnd(22)} ${String(r.ms.length).padStart(7)} | ${fmt(pct(r.ms, 50))} | ${fmt(pct(r.ms, 95))} | ${[...r.answers].join()}`);
  const added = (a: number, b: number) => `${fmt(pct(rows[b]![1].ms, 50) - pct(rows[a]![1].ms, 50))} | ${fmt(pct(rows[b]![1].ms, 95) - pct(rows[a]![1].ms, 95))}`;
  console.log(`  added by substitution, http          | ${added(0, 1)} |`);
  console.log(`  added by substitution, https         | ${added(2, 3)} | (TLS terminated and re-originated by the proxy)`);
} finally {
  await host.close();
  upstream.close();
  tlsUpstream.close();
  rmSync(stateDir, { recursive: true, force: true });
}

function fmt(n: number): string {
  return n.toFixed(2).padStart(9);
}
