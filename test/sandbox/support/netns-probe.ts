// Runs inside a fresh network and mount namespace (started by egress.test.ts with `unshare --net --mount`): gives
// the namespace a "public" address of its own (on its loopback interface) and its own /etc/hosts, starts
// servers bound to every address, runs a local sandbox host in-process, tries each destination from a sandbox,
// and prints what happened as one JSON line. Nothing here touches the machine's real network or files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Networking } from '../../../sandbox/hands.ts';
import { localHands } from '../../../sandbox/local/client.ts';
import { startSandboxHost } from '../../../sandbox/local/host.ts';

/** What the test asks for, as JSON in argv[2]. */
export interface ProbePlan {
  /** The namespace's own non-loopback address. */
  selfAddress: string;
  /** name → address, written to the namespace's /etc/hosts; the sandbox's proxy resolves names with it. */
  hosts: Record<string, string>;
  /** Each runs as one bash call in its own session; `{any}`, `{lo1}`, `{lo5}` become the servers' ports. */
  attempts: Array<{ name: string; networking: Networking; command: string }>;
  /**
   * Give the sandbox host HTTP_PROXY/HTTPS_PROXY: a forward proxy on 127.0.0.9 that answers every request itself
   * (the "internet" the namespace does not have) and records what it was asked for.
   */
  forwardProxy?: boolean;
}

export interface ProbeReport {
  results: Record<string, { text: string; isError: boolean }>;
  /** What the forward proxy was asked for (absolute URLs, or CONNECT authorities). */
  asked: string[];
  /** Requests each server saw: `any` listens on every address, `lo1` on 127.0.0.1, `lo5` on 127.0.0.5. */
  hits: Record<'any' | 'lo1' | 'lo5', string[]>;
  ports: Record<'any' | 'lo1' | 'lo5', number>;
}

function sh(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function listen(host: string, hits: string[]): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.headers.host ?? ''}${req.url ?? ''}`);
    res.end('hello from the machine itself');
  });
  await new Promise<void>((resolve) => server.listen({ host, port: 0, ipv6Only: false }, () => resolve()));
  return { server, port: (server.address() as AddressInfo).port };
}

async function main(): Promise<void> {
  const { selfAddress, hosts, attempts, forwardProxy } = JSON.parse(process.argv[2] ?? '{}') as ProbePlan;
  sh('ip', ['link', 'set', 'lo', 'up']);
  // on lo: no kernel module needed (a dummy interface may not exist), and it is an interface address all the same
  sh('ip', ['addr', 'add', `${selfAddress}/32`, 'dev', 'lo']);
  const scratch = mkdtempSync(path.join(tmpdir(), 'eh-netns-probe-'));
  const hostsFile = path.join(scratch, 'hosts');
  writeFileSync(hostsFile, ['127.0.0.1 localhost', '::1 localhost', ...Object.entries(hosts).map(([name, ip]) => `${ip} ${name}`)].join('\n') + '\n');
  // private to this mount namespace: the machine's own /etc/hosts is untouched
  sh('mount', ['--bind', hostsFile, '/etc/hosts']);

  const hits: ProbeReport['hits'] = { any: [], lo1: [], lo5: [] };
  const any = await listen('::', hits.any); // dual stack: every IPv4 and IPv6 address of the namespace
  const lo1 = await listen('127.0.0.1', hits.lo1);
  const lo5 = await listen('127.0.0.5', hits.lo5);

  const asked: string[] = [];
  let internet: Server | undefined;
  if (forwardProxy) {
    internet = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.end(`the internet says hello to ${req.url}`);
    });
    internet.on('connect', (req, socket) => {
      asked.push(req.url ?? '');
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    await new Promise<void>((resolve) => internet?.listen(0, '127.0.0.9', () => resolve()));
    const url = `http://127.0.0.9:${(internet.address() as AddressInfo).port}`;
    // read by the launchers the host starts: sandbox-runtime and the credential proxy forward through it
    Object.assign(process.env, { HTTP_PROXY: url, HTTPS_PROXY: url, NO_PROXY: '' });
  }

  const secret = 'netns-probe-secret';
  const host = await startSandboxHost({ stateDir: path.join(scratch, 'sandboxes'), secret, hide: [scratch] });
  const hands = localHands({ SANDBOX_HOST_URL: host.url, EDGEHARNESS_SANDBOX_SECRET: secret });
  const ports = { any: any.port, lo1: lo1.port, lo5: lo5.port };
  const results: ProbeReport['results'] = {};
  try {
    for (const [i, attempt] of attempts.entries()) {
      const command = attempt.command.replaceAll('{any}', String(ports.any)).replaceAll('{lo1}', String(ports.lo1)).replaceAll('{lo5}', String(ports.lo5));
      const outcome = await hands.execute(
        { sessionId: `sesn_probe_${i}`, workspaceId: 'wrkspc_probe', environmentId: 'env_probe', networking: attempt.networking },
        { name: 'bash', input: { command }, idempotencyKey: `probe-${i}` },
      );
      results[attempt.name] = { text: outcome.content.map((b) => b.text).join(''), isError: outcome.isError };
    }
  } finally {
    await host.close();
    for (const s of [any, lo1, lo5]) s.server.close();
    internet?.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ results, asked, hits, ports } satisfies ProbeReport)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`netns probe failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
