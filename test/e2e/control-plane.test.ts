// End to end: the runtime's own services are out of a sandbox's reach. The real runtime (wrangler and workerd,
// the scripted model it starts, the sandbox host) runs here; every TCP port any of its processes listens on is
// tried from inside a sandbox by every name and address of this machine, with networking that lists them all
// (as an environment stored before the API refused such lists would). None answers. And the API refuses such
// environments now.
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Networking } from '../../sandbox/hands.ts';
import { localHands } from '../../sandbox/local/client.ts';
import { selfAddresses } from '../../sandbox/local/isolation.ts';
import { startRuntime, type Runtime } from '../../scripts/runtime.ts';
import { descendants, listeners, type Listener } from '../support/processes.ts';

describe("the runtime's own services, from a sandbox", () => {
  let runtime: Runtime;
  let stateDir: string;
  let ports: Listener[];
  let control: { url: string; close: () => void };
  const own = selfAddresses().filter((a) => !a.includes('%'));

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'eh-control-plane-'));
    // No ANTHROPIC_* settings: the runtime starts its own scripted model, whose port is then one of its own. The
    // DevTools inspector (off by default) is turned on, to show it is out of reach even when a developer opens it.
    runtime = await startRuntime({ port: 0, stateDir, inspectorPort: 0, env: { EDGEHARNESS_API_KEY: 'control-plane-key', PATH: process.env.PATH, HOME: process.env.HOME } });
    ports = listeners(descendants(process.pid));
    const server = createServer((_req, res) => res.end('control'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.3', () => resolve()));
    control = { url: `http://127.0.0.3:${(server.address() as AddressInfo).port}`, close: () => server.close() };
  });

  afterAll(async () => {
    control?.close();
    await runtime?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('finds the API, the inspector, the model and the sandbox host among the ports it listens on, all bound to 127.0.0.1', () => {
    const listed = new Set(ports.map((l) => l.port));
    expect(listed.has(runtime.port)).toBe(true);
    expect(listed.has(Number(new URL(runtime.inspectorUrl ?? '').port))).toBe(true);
    expect(listed.has(Number(new URL(runtime.model.baseURL ?? '').port))).toBe(true);
    expect(listed.has(Number(new URL(runtime.sandboxHost.url).port))).toBe(true);
    // a socket bound to 0.0.0.0 or :: would answer on 127.0.0.2 and up, which an environment may list
    expect(ports.filter((l) => l.address !== '127.0.0.1')).toEqual([]);
  });

  it('answers no request from a sandbox whose networking lists every name and address of this machine', async () => {
    const names = [...new Set(['localhost', '127.0.0.1', '[::1]', '0.0.0.0', '127.0.0.2', ...own.map((a) => (a.includes(':') ? `[${a}]` : a))])];
    const networking: Networking = {
      type: 'limited',
      allowed_hosts: [...names.map((n) => n.replace(/^\[|\]$/g, '')), '*.localhost'],
      allow_package_managers: false,
      allow_mcp_servers: false,
    };
    const urls = [...new Set(ports.map((l) => l.port))].flatMap((port) => names.map((name) => `http://${name}:${port}/`));
    networking.allowed_hosts.push('127.0.0.3');
    // One line per URL: the status, and who answered: the sandbox's proxy refusing (its 403 carries X-Proxy-Error),
    // the proxy failing to dial (its plain 502 "Bad Gateway": nothing listens there), or a service.
    const probe = (url: string): string =>
      `curl -s -m 5 -D h -o b '${url}'; s=$(head -n1 h | cut -d' ' -f2); ` +
      `if grep -qi '^x-proxy-error:' h; then w=refused; elif [ "$s" = 502 ] && [ "$(cat b)" = 'Bad Gateway' ]; then w=unreachable; ` +
      `elif [ -z "$s" ]; then w=nothing; else w=service; fi; echo '${url}' "$s" "$w"; rm -f h b`;
    const command = ['unset no_proxy NO_PROXY', ...[...urls, `${control.url}/`].map(probe)].join('\n');
    const hands = localHands({ SANDBOX_HOST_URL: runtime.sandboxHost.url, EDGEHARNESS_SANDBOX_SECRET: runtime.sandboxHost.secret });
    const outcome = await hands.execute(
      { sessionId: 'sesn_control_plane', workspaceId: 'wrkspc_control_plane', environmentId: 'env_control_plane', networking },
      { name: 'bash', input: { command }, idempotencyKey: 'control-plane-probe' },
    );
    const lines = outcome.content.map((b) => b.text).join('').trim().split('\n').filter((l) => l.startsWith('http://'));
    expect(lines).toHaveLength(urls.length + 1);
    // the probe can tell: a server the networking lists, on 127.0.0.3, is reached through the same proxy
    expect(lines).toContain(`${control.url}/ 200 service`);
    const reached = lines.filter((line) => !line.startsWith(control.url) && line.endsWith(' service'));
    expect(reached).toEqual([]);
  });

  it('refuses an environment that lists the machine itself, naming the field', async () => {
    const client = new Anthropic({ baseURL: runtime.url, apiKey: runtime.apiKey, maxRetries: 0 });
    for (const host of ['localhost', '127.0.0.1', '::1']) {
      const created = client.beta.environments.create({
        name: 'dev server',
        config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['api.example.com', host] } },
      });
      await expect(created).rejects.toMatchObject({ status: 400, message: expect.stringContaining('config.networking.allowed_hosts[1]') });
    }
    const environment = await client.beta.environments.create({ name: 'fine', config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } } });
    const updated = client.beta.environments.update(environment.id, { config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['localhost'] } } });
    await expect(updated).rejects.toMatchObject({ status: 400 });
    const after = await client.beta.environments.retrieve(environment.id);
    expect(after.config).toMatchObject({ networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } });
    expect((await client.beta.environments.list()).data.map((e) => e.name)).toEqual(['fine']);
  });
});
