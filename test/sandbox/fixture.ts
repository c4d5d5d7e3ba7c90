// Shared set-up for the sandbox host tests: a host on a temp state dir (in this process, or as the
// `sandbox/local/main.ts` child that `npm start` runs), the Worker's client pointed at it, and small HTTP servers
// on 127.0.0.x that tests try to reach from inside a sandbox.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Networking, SandboxSpec, ToolOutcome } from '../../sandbox/hands.ts';
import { localHands } from '../../sandbox/local/client.ts';
import { startSandboxHost } from '../../sandbox/local/host.ts';
import { processesMentioning as liveProcessesMentioning } from '../support/processes.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface TestHost {
  url: string;
  secret: string;
  /** The runtime's state dir stand-in; the host keeps sessions in `<root>/sandboxes`. */
  root: string;
  sandboxesDir: string;
  hands: ReturnType<typeof localHands>;
  workspace(sessionId: string): string;
  /** Runs one tool call through the Worker's client, with a fresh idempotency key unless one is given. */
  call(sessionId: string, name: string, input: Record<string, unknown>, o?: { key?: string; timeoutMs?: number; networking?: Networking }): Promise<ToolOutcome>;
  api(method: string, urlPath: string, body?: unknown, secret?: string | null): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export function newRoot(): string {
  return mkdtempSync(path.join(tmpdir(), 'eh-sandbox-test-'));
}

export function spec(sessionId: string, networking: Networking = { type: 'unrestricted' }): SandboxSpec {
  return { sessionId, workspaceId: 'wrkspc_test', environmentId: 'env_test', networking };
}

export function text(outcome: ToolOutcome): string {
  return outcome.content.map((b) => b.text).join('');
}

export function newKey(): string {
  return `sevt_${randomBytes(8).toString('hex')}`;
}

function wrap(url: string, secret: string, root: string, close: () => Promise<void>): TestHost {
  const hands = localHands({ SANDBOX_HOST_URL: url, EDGEHARNESS_SANDBOX_SECRET: secret });
  const sandboxesDir = path.join(root, 'sandboxes');
  return {
    url,
    secret,
    root,
    sandboxesDir,
    hands,
    workspace: (id) => path.join(sandboxesDir, id, 'workspace'),
    call: (id, name, input, o = {}) =>
      hands.execute(spec(id, o.networking), { name, input, idempotencyKey: o.key ?? newKey(), timeoutMs: o.timeoutMs }),
    async api(method, urlPath, body, auth = secret) {
      const response = await fetch(`${url}${urlPath}`, {
        method,
        headers: { ...(auth === null ? {} : { authorization: `Bearer ${auth}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    },
    close,
  };
}

/** A host in this process, keeping its sessions in `<root>/sandboxes` and hiding all of `root` from sandboxes. */
export async function startHost(root = newRoot(), o: { idleMs?: number } = {}): Promise<TestHost> {
  const secret = randomBytes(16).toString('hex');
  const host = await startSandboxHost({ stateDir: path.join(root, 'sandboxes'), secret, hide: [root], idleMs: o.idleMs });
  return wrap(host.url, secret, root, () => host.close());
}

/** One host (startHost) for the tests of the describe block that calls this; its root is removed afterwards. */
export function useHost(): TestHost {
  return suiteFixture(startHost, async (host) => {
    await host.close();
    removeRoot(host.root);
  });
}

export interface HostProcess extends TestHost {
  child: ChildProcess;
  /** SIGKILL: the host dies without stopping anything. */
  kill(): Promise<void>;
}

/** The host as `npm start` runs it: `node sandbox/local/main.ts`, the secret on stdin. */
export async function startHostProcess(root: string, env: NodeJS.ProcessEnv = process.env): Promise<HostProcess> {
  const secret = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'sandbox', 'local', 'main.ts'), '--port', '0', '--state', path.join(root, 'sandboxes'), '--hide', root], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdin!.end(`${secret}\n`);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const match = /sandbox host listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    child.once('exit', () => reject(new Error(`sandbox host exited before listening:\n${output}`)));
  });
  const host = wrap(url, secret, root, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  return {
    ...host,
    child,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The host pids of the Node process running `tool-runner.ts` for a workspace (inside its sandbox). The
 * wrappers around it (bash, bwrap) mention the runner in their command lines too; only the runner's own
 * argv starts with the Node binary and the runner file.
 */
export function runnerPids(workspace: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[1]?.endsWith(path.join('sandbox', 'local', 'tool-runner.ts')) && argv.includes(workspace) && /node$/.test(argv[0] ?? '')) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/** Every host process whose command line mentions a workspace: the launcher's tree (bash, bwrap, the runner). */
export function processesMentioning(workspace: string): number[] {
  return liveProcessesMentioning(workspace).map((p) => p.pid);
}

export { waitFor } from '../support/processes.ts';

export interface TestServer {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

/** An HTTP server on a loopback address that records each request it gets and answers `hello from <host>`. */
export async function startServer(host: string): Promise<TestServer> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end(`hello from ${host}`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
