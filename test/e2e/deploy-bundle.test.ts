// `wrangler deploy --dry-run` bundles the Worker with its Durable Objects, the files' R2 bucket and the Brain binding, offline.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('bundles the Worker for deployment with wrangler deploy --dry-run', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'eh-deploy-'));
  try {
    const { stdout } = await run('wrangler', ['deploy', '--dry-run', '--outdir', out], {
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      timeout: 120_000,
    });
    expect(stdout).toContain('--dry-run: exiting now');
    for (const binding of ['SESSION_LOG (SessionLog)', 'WORKSPACE (WorkspaceStore)', 'DIRECTORY (Directory)', 'WEBHOOKS (WebhookOutbox)', 'TELEMETRY (TelemetryOutbox)', 'FILES (edgeharness-files)', 'BRAIN (edgeharness#Brain)', 'env.ASSETS'])
      expect(stdout).toContain(binding);
    const bundle = path.join(out, 'index.js');
    expect(existsSync(bundle)).toBe(true);
    expect(statSync(bundle).size).toBeGreaterThan(10_000);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
