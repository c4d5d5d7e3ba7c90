// The hands registry: SANDBOX_PROVIDER picks the provider, `local` when unset, and an unknown name is an error on
// every tool call naming the variable and the providers there are.
import { describe, expect, it, vi } from 'vitest';
import type { SandboxSpec, ToolOutcome } from '../../sandbox/hands.ts';
import { HANDS_PROVIDERS, handsFor, type HandsEnv } from '../../sandbox/providers.ts';

// The Cloudflare provider's Durable Object module imports the Sandbox SDK, which loads only in workerd; the
// registry needs none of it until a sandbox is opened.
vi.mock('../../sandbox/cloudflare/session-sandbox.ts', () => ({
  openSessionSandbox: () => () => {
    throw new Error('opened a Cloudflare sandbox');
  },
}));

const spec: SandboxSpec = { sessionId: 'sesn_1', workspaceId: 'wrkspc_default', environmentId: 'env_1', networking: { type: 'unrestricted' } };
const text = (outcome: ToolOutcome): string => outcome.content.map((block) => block.text).join('');
const run = (env: HandsEnv): Promise<ToolOutcome> => handsFor(env).execute(spec, { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_1' });

describe('choosing the hands', () => {
  it('knows the local and the Cloudflare provider', () => {
    expect(Object.keys(HANDS_PROVIDERS).sort()).toEqual(['cloudflare', 'local']);
  });

  it('is the local sandbox host when SANDBOX_PROVIDER is unset, empty or "local"', async () => {
    for (const SANDBOX_PROVIDER of [undefined, '', ' ', 'local']) {
      // with no host configured, the local provider says so: which provider answered shows in what it says
      expect(text(await run({ SANDBOX_PROVIDER }))).toMatch(/^no sandbox host is configured \(SANDBOX_HOST_URL/);
    }
  });

  it('is the Cloudflare provider when SANDBOX_PROVIDER is "cloudflare"', async () => {
    expect(text(await run({ SANDBOX_PROVIDER: 'cloudflare' }))).toMatch(/the SANDBOX Durable Object binding is missing/);
    expect(text(await run({ SANDBOX_PROVIDER: 'cloudflare', SANDBOX: {} as NonNullable<HandsEnv['SANDBOX']> }))).toMatch(/opened a Cloudflare sandbox/);
  });

  it('turns an unknown name into an error naming the variable and the providers, on each call and on provision', async () => {
    for (const SANDBOX_PROVIDER of ['cloudfare', 'toString', '__proto__']) {
      const outcome = await run({ SANDBOX_PROVIDER });
      expect(outcome.isError).toBe(true);
      expect(text(outcome)).toBe(`The tool did not run: SANDBOX_PROVIDER: no hands provider is called "${SANDBOX_PROVIDER}"; the providers are "local", "cloudflare" (unset: "local").`);
      await expect(handsFor({ SANDBOX_PROVIDER }).provision(spec)).rejects.toThrow(/^SANDBOX_PROVIDER: no hands provider is called/);
    }
  });
});
