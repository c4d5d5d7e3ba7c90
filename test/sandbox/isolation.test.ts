// What a session's sandbox cannot do: read the user's home, the runtime's state or the project source, write
// outside its workspace, or reach the host's loopback services; and what each kind of networking lets through.
// Every check runs a real command inside real bubblewrap and the sandbox-runtime proxy.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Networking } from '../../sandbox/hands.ts';
import { newRoot, PROJECT_ROOT, removeRoot, startHost, startHostProcess, startServer, text, type HostProcess, type TestHost, type TestServer } from './fixture.ts';

describe('filesystem isolation', () => {
  let host: TestHost;
  const canary = `canary-${randomBytes(8).toString('hex')}`;
  const homeCanary = path.join(homedir(), `.edgeharness-test-${randomBytes(4).toString('hex')}`);
  let stateCanary: string;

  beforeAll(async () => {
    host = await startHost();
    writeFileSync(homeCanary, canary);
    stateCanary = path.join(host.root, 'api-key');
    writeFileSync(stateCanary, canary);
  });
  afterAll(async () => {
    await host.close();
    rmSync(homeCanary, { force: true });
    removeRoot(host.root);
  });

  it('cannot read a file in the home directory', async () => {
    const outcome = await host.call('sesn_fs', 'bash', { command: `cat ${homeCanary}` });
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('No such file or directory');
    expect(text(outcome)).not.toContain(canary);
  });

  it("cannot read the runtime's state dir, nor another session's workspace", async () => {
    await host.call('sesn_other', 'write', { file_path: 'private.txt', content: canary });
    for (const file of [stateCanary, path.join(host.workspace('sesn_other'), 'private.txt'), path.join(host.sandboxesDir, 'sesn_other', 'results')]) {
      const outcome = await host.call('sesn_fs', 'bash', { command: `cat ${file} || ls ${file}` });
      expect(outcome.isError, file).toBe(true);
      expect(text(outcome), file).not.toContain(canary);
    }
    // of the whole state dir, only its own workspace shows
    const listing = await host.call('sesn_fs', 'bash', { command: `ls -A ${host.sandboxesDir}; ls -A ${path.join(host.sandboxesDir, 'sesn_fs')}` });
    expect(text(listing)).toBe('sesn_fs\nworkspace');
  });

  it('cannot read the project source; only node_modules and the tool runner are there', async () => {
    expect(existsSync(path.join(PROJECT_ROOT, 'README.md'))).toBe(true);
    const readme = await host.call('sesn_fs', 'bash', { command: `cat ${path.join(PROJECT_ROOT, 'README.md')}` });
    expect(readme.isError).toBe(true);
    expect(text(readme)).toContain('No such file or directory');
    const listing = await host.call('sesn_fs', 'bash', { command: `ls -A ${PROJECT_ROOT}; ls -A ${path.join(PROJECT_ROOT, 'sandbox', 'local')}` });
    expect(text(listing).split('\n')).toEqual(['node_modules', 'package.json', 'sandbox', 'tool-runner.ts']);
  });

  it('cannot write outside its workspace: system and project paths are read-only, hidden ones are its own tmpfs', async () => {
    const probe = `edgeharness-write-probe-${randomBytes(4).toString('hex')}`;
    for (const target of [path.join(PROJECT_ROOT, 'node_modules', probe), path.join('/usr/local', probe), path.join('/etc', probe)]) {
      const outcome = await host.call('sesn_fs', 'bash', { command: `echo x > ${target}` });
      expect(outcome.isError, target).toBe(true);
      expect(text(outcome), target).toContain('Read-only file system');
      expect(existsSync(target), target).toBe(false);
    }
    // hidden directories (home, state, /tmp) are empty tmpfs mounts inside: a write there lands in the sandbox
    // and disappears with it, never on the host
    for (const target of [path.join(homedir(), probe), path.join(host.root, probe), path.join('/tmp', probe), path.join(PROJECT_ROOT, probe)]) {
      const outcome = await host.call('sesn_fs', 'bash', { command: `echo x > ${target} && cat ${target}` });
      expect(text(outcome), target).toBe('x');
      expect(existsSync(target), target).toBe(false);
    }
  });

  it("does not hand the host's environment to the tools", async () => {
    // set before this session's sandbox starts, so the runner would inherit it if it inherited anything
    process.env.EDGEHARNESS_TEST_LEAK = canary;
    try {
      const outcome = await host.call('sesn_env', 'bash', { command: 'env' });
      expect(outcome.isError).toBe(false);
      expect(text(outcome)).not.toContain(canary);
    } finally {
      delete process.env.EDGEHARNESS_TEST_LEAK;
    }
  });
});

/** A state dir outside home, /tmp and the project (which are hidden anyway), if this user may make one. */
function stateDirElsewhere(): string | undefined {
  for (const parent of ['/var/lib', '/srv', '/opt']) {
    try {
      return mkdtempSync(path.join(parent, 'edgeharness-test-'));
    } catch {
      // not writable for this user
    }
  }
  return undefined;
}

describe('a state dir outside the places hidden anyway', () => {
  let root: string | undefined;
  let host: TestHost;
  beforeAll(async () => {
    root = stateDirElsewhere();
    if (root) host = await startHost(root);
  });
  afterAll(async () => {
    if (!root) return;
    await host.close();
    removeRoot(root);
  });

  it("is hidden all the same, except the session's own workspace", async ({ skip }) => {
    if (!root) return skip('no writable directory outside home, /tmp and the project for this user');
    const canary = `canary-${randomBytes(8).toString('hex')}`;
    writeFileSync(path.join(root, 'sandbox-secret'), canary);
    const outcome = await host.call('sesn_elsewhere', 'bash', { command: `cat ${path.join(root, 'sandbox-secret')}; ls -A ${root}; pwd` });
    expect(text(outcome)).not.toContain(canary);
    expect(text(outcome)).toContain('No such file or directory');
    expect(text(outcome)).toContain(`sandboxes\n${host.workspace('sesn_elsewhere')}`);
  });
});

describe('network isolation', () => {
  let host: TestHost;
  let onLoopback: TestServer;
  let on127_0_0_2: TestServer;
  let listed: TestServer;

  beforeAll(async () => {
    host = await startHost();
    onLoopback = await startServer('127.0.0.1');
    on127_0_0_2 = await startServer('127.0.0.2');
    listed = await startServer('127.0.0.3');
  });
  afterAll(async () => {
    await host.close();
    await Promise.all([onLoopback.close(), on127_0_0_2.close(), listed.close()]);
    removeRoot(host.root);
  });

  it('unrestricted cannot reach HTTP servers on the host loopback, directly or through the proxy', async () => {
    const port = new URL(onLoopback.url).port;
    const attempts = {
      // no_proxy sends these straight into the sandbox's empty network namespace
      direct: `curl -sS -m 5 ${onLoopback.url}/`,
      localhost: `curl -sS -m 5 http://localhost:${port}/`,
      // through the proxy, which refuses loopback however it is spelled
      proxied: `curl -sS -m 5 --proxy "$HTTP_PROXY" ${onLoopback.url}/`,
      shorthand: `curl -sS -m 5 --proxy "$HTTP_PROXY" http://2130706433:${port}/`,
      other: `curl -sS -m 5 ${on127_0_0_2.url}/`,
      tunnel: `curl -sS -m 5 -p ${on127_0_0_2.url}/`,
    };
    const results: Record<string, string> = {};
    for (const [name, command] of Object.entries(attempts)) results[name] = text(await host.call('sesn_net', 'bash', { command }));
    for (const result of Object.values(results)) expect(result).not.toContain('hello from');
    expect(onLoopback.hits).toEqual([]);
    expect(on127_0_0_2.hits).toEqual([]);
    expect(results.direct).toContain("Couldn't connect to server");
    expect(results.other).toContain('Connection blocked by network allowlist'); // the proxy's 403
    expect(results.other).toContain('the loopback range 127.0.0.0/8 is never reachable from the sandbox'); // the host's note
    expect(results.tunnel).toContain('CONNECT tunnel failed, response 403');
  });

  it('limited reaches a host in allowed_hosts and refuses one that is not, saying why', async () => {
    const networking: Networking = { type: 'limited', allowed_hosts: ['127.0.0.3'], allow_package_managers: false, allow_mcp_servers: false };
    const allowed = await host.call('sesn_limited', 'bash', { command: `curl -sS -m 5 ${listed.url}/` }, { networking });
    expect(allowed).toEqual({ content: [{ type: 'text', text: 'hello from 127.0.0.3' }], isError: false, sandboxStart: 'cold' });

    const refused = await host.call('sesn_limited', 'bash', { command: `curl -sS -m 5 ${on127_0_0_2.url}/` }, { networking });
    expect(text(refused)).toContain('Connection blocked by network allowlist');
    expect(text(refused)).toContain('127.0.0.2 is not in allowed_hosts (127.0.0.3)');
    const https = await host.call('sesn_limited', 'bash', { command: `curl -sS -m 5 https://not-listed.example/` }, { networking });
    expect(https.isError).toBe(true);
    expect(text(https)).toContain('not-listed.example is not in allowed_hosts');
    expect(on127_0_0_2.hits).toEqual([]);
  });

  it("a session's changed networking applies from its next call", async () => {
    const limited: Networking = { type: 'limited', allowed_hosts: ['127.0.0.3'], allow_package_managers: false, allow_mcp_servers: false };
    const command = `curl -sS -m 5 ${listed.url}/`;
    expect(text(await host.call('sesn_change', 'bash', { command }))).toContain('never reachable from the sandbox');
    expect(text(await host.call('sesn_change', 'bash', { command }, { networking: limited }))).toBe('hello from 127.0.0.3');
    expect(text(await host.call('sesn_change', 'bash', { command }))).toContain('never reachable from the sandbox');
  });
});

describe('unrestricted networking with an upstream proxy standing in for the internet', () => {
  let host: HostProcess;
  let upstream: Server;
  const asked: string[] = [];
  let loopback: TestServer;

  beforeAll(async () => {
    // a forward proxy on 127.0.0.4 that answers every request itself: the "internet" this machine does not have
    upstream = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.end(`the internet says hello to ${req.url}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.4', () => resolve()));
    const proxy = `http://127.0.0.4:${(upstream.address() as AddressInfo).port}`;
    loopback = await startServer('127.0.0.2');
    // the host forwards its sandboxes' egress through HTTP_PROXY, as it would through a corporate proxy
    const env = { ...process.env, HTTP_PROXY: proxy, HTTPS_PROXY: proxy, NO_PROXY: '' };
    host = await startHostProcess(newRoot(), env);
  });
  afterAll(async () => {
    await host.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await loopback.close();
    removeRoot(host.root);
  });

  it('lets a public host name through the proxy', async () => {
    const outcome = await host.call('sesn_public', 'bash', { command: 'curl -sS -m 5 http://public.example/path' });
    expect(outcome).toEqual({ content: [{ type: 'text', text: 'the internet says hello to http://public.example/path' }], isError: false, sandboxStart: 'cold' });
  });

  it('still refuses the host loopback, which never reaches the upstream proxy', async () => {
    const outcome = await host.call('sesn_public', 'bash', { command: `curl -sS -m 5 ${loopback.url}/` });
    expect(text(outcome)).toContain('Connection blocked by network allowlist');
    expect(loopback.hits).toEqual([]);
    expect(asked.some((u) => u.includes('127.0.0.2'))).toBe(false);
  });
});
