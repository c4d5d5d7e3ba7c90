// The Worker's client for the local sandbox host: an unreachable, misconfigured or refusing host is a tool error
// the model can read, never a thrown error (only provision may throw).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { localHands } from '../../sandbox/local/client.ts';
import { removeRoot, spec, startHost, text } from './fixture.ts';

const call = { name: 'bash', input: { command: 'true' }, idempotencyKey: 'sevt_client' };

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('localHands', () => {
  it('turns an unreachable host into an error result, and provision into a thrown error', async () => {
    const hands = localHands({ SANDBOX_HOST_URL: `http://127.0.0.1:${await closedPort()}`, EDGEHARNESS_SANDBOX_SECRET: 'x' });
    const outcome = await hands.execute(spec('sesn_c'), call);
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toMatch(/^sandbox host unreachable: /);
    await expect(hands.provision(spec('sesn_c'))).rejects.toThrow();
    await expect(hands.destroy('sesn_c')).resolves.toBeUndefined();
  });

  it('says so when no sandbox host is configured', async () => {
    const hands = localHands({});
    const outcome = await hands.execute(spec('sesn_c'), call);
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('no sandbox host is configured');
    await expect(hands.provision(spec('sesn_c'))).rejects.toThrow(/no sandbox host is configured/);
  });

  it('reports a host that refuses its secret', async () => {
    const host = await startHost();
    try {
      const hands = localHands({ SANDBOX_HOST_URL: host.url, EDGEHARNESS_SANDBOX_SECRET: 'not-the-secret' });
      const outcome = await hands.execute(spec('sesn_c'), call);
      expect(outcome).toEqual({ content: [{ type: 'text', text: 'sandbox host answered 401: missing or wrong bearer secret' }], isError: true });
      await expect(hands.provision(spec('sesn_c'))).rejects.toThrow(/401/);
    } finally {
      await host.close();
      removeRoot(host.root);
    }
  });
});
