// The best-effort resolved-address check for names another dialer (the host's forward proxy) resolves itself:
// every address a name resolves to is judged by the egress policy before the name is handed on.
import { describe, expect, it } from 'vitest';
import type { Networking } from '../../sandbox/hands.ts';
import { refusedResolution } from '../../sandbox/local/resolve-check.ts';

const unrestricted: Networking = { type: 'unrestricted' };
const limited = (...allowed_hosts: string[]): Networking => ({ type: 'limited', allowed_hosts, allow_package_managers: false, allow_mcp_servers: false });
const answers = (table: Record<string, string[]>) => async (host: string): Promise<string[]> => {
  const found = table[host];
  if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
  return found;
};

describe('refusedResolution', () => {
  it('passes a name whose every address is public', async () => {
    const resolve = answers({ 'api.example.test': ['93.184.216.34', '2606:2800:220:1::1'] });
    expect(await refusedResolution(unrestricted, 'api.example.test', { resolve })).toBeUndefined();
  });

  it('refuses a name that resolves to loopback, where the runtime itself listens (x.nip.io → 127.0.0.1)', async () => {
    const resolve = answers({ 'x.nip.io': ['127.0.0.1'] });
    const reason = await refusedResolution(unrestricted, 'x.nip.io', { resolve });
    expect(reason).toMatch(/egress to x\.nip\.io refused: it resolved to the machine the runtime itself runs on/);
    expect(reason).not.toContain('127.0.0.1');
  });

  it('refuses when any one address is refused, not only the first', async () => {
    const resolve = answers({ 'mixed.example.test': ['93.184.216.34', '10.1.2.3'] });
    expect(await refusedResolution(unrestricted, 'mixed.example.test', { resolve })).toMatch(/private range 10\.0\.0\.0\/8/);
  });

  it('refuses a private address unless limited lists that address itself', async () => {
    const resolve = answers({ 'db.example.test': ['10.0.0.5'] });
    expect(await refusedResolution(limited('db.example.test'), 'db.example.test', { resolve })).toMatch(/refused/);
    expect(await refusedResolution(limited('db.example.test', '10.0.0.5'), 'db.example.test', { resolve })).toBeUndefined();
  });

  it("refuses one of this machine's own addresses", async () => {
    const resolve = answers({ 'me.example.test': ['203.0.113.9'] });
    expect(await refusedResolution(unrestricted, 'me.example.test', { resolve, selfAddresses: ['203.0.113.9'] })).toMatch(/one of its own addresses/);
  });

  it('leaves a name this machine cannot resolve to the forward proxy, which resolves it on its own side', async () => {
    expect(await refusedResolution(unrestricted, 'gone.example.test', { resolve: answers({}) })).toBeUndefined();
    expect(await refusedResolution(unrestricted, 'empty.example.test', { resolve: answers({ 'empty.example.test': [] }) })).toBeUndefined();
  });

  it('leaves IP literals to decideEgress: they are not looked up', async () => {
    const resolve = async (): Promise<string[]> => {
      throw new Error('looked up');
    };
    expect(await refusedResolution(unrestricted, '93.184.216.34', { resolve })).toBeUndefined();
    expect(await refusedResolution(unrestricted, '[2606:2800:220:1::1]', { resolve })).toBeUndefined();
  });

  it('resolves with the system resolver by default (localhost is this machine)', async () => {
    expect(await refusedResolution(unrestricted, 'localhost')).toMatch(/refused/);
  });
});
