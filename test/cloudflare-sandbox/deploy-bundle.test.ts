// `wrangler deploy --dry-run --env cloudflare` bundles the Worker with the SessionSandbox Durable Object, its
// container and the ContainerProxy entrypoint, offline. Building the image needs Docker, which is not here, so
// `--containers-rollout=none` skips the build (a real deploy builds and pushes it; see docs/cloudflare-sandbox.md).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

it('bundles the cloudflare environment with the SANDBOX binding, its container and the ContainerProxy entrypoint', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'eh-deploy-cf-'));
  try {
    const { stdout } = await run(
      path.join(root, 'node_modules/.bin/wrangler'),
      ['deploy', '--dry-run', '--env', 'cloudflare', '--containers-rollout=none', '--outdir', out],
      { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }, timeout: 120_000 },
    );
    expect(stdout).toContain('--dry-run: exiting now');
    for (const binding of [
      'env.SANDBOX (SessionSandbox)',
      'env.SESSION_LOG (SessionLog)',
      'env.TELEMETRY (TelemetryOutbox)',
      'env.FILES (edgeharness-files)',
      'env.BRAIN (edgeharness-cloudflare#Brain)',
      // the console's static files (web/)
      'env.ASSETS',
      'env.SANDBOX_PROVIDER ("cloudflare")',
      // per-key rate limiting when deployed (docs/workspaces.md)
      'env.RATE_LIMITER (6000 requests/60s)',
    ])
      expect(stdout).toContain(binding);
    expect(stdout).toMatch(/containers are available:\s*\n- edgeharness-sessionsandbox-cloudflare \(.*sandbox\/Dockerfile\)/);

    const bundle = readFileSync(path.join(out, 'index.js'), 'utf8');
    const exported = bundle.slice(bundle.lastIndexOf('export {'));
    expect(exported).toMatch(/\bSessionSandbox\b/);
    expect(exported).toMatch(/\bas ContainerProxy\b|\bContainerProxy,/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
