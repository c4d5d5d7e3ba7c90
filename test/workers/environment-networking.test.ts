// An environment may not list the machine the runtime runs on in allowed_hosts: create and update refuse it with
// a 400 naming the rule, and store nothing. Other loopback addresses, listed as literals, are fine.
import { describe, expect, it } from 'vitest';
import { call } from './api.ts';

const limited = (allowed_hosts: string[]) => ({ type: 'cloud', networking: { type: 'limited', allowed_hosts } });

describe('environment networking that names the machine itself', () => {
  it.each([
    'localhost', 'LOCALHOST.', 'localhost:3000', 'dev.localhost', '*.localhost',
    '127.0.0.1', '127.1', '127.0.0.1:8787', 'http://127.0.0.1:8787/', '0x7f000001',
    '::1', '[::1]', '[::1]:3000', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '0.0.0.0', '::',
  ])('refuses %s on create, naming the rule, and stores nothing', async (rule) => {
    const before = (await call('GET', '/v1/environments?limit=100')).body.data.length;
    const r = await call('POST', '/v1/environments', { name: 'dev', config: limited(['api.example.com', rule]) });
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_request_error');
    expect(r.body.error.message).toContain('config.networking.allowed_hosts[1]');
    expect(r.body.error.message).toContain('the machine the runtime runs on');
    expect(r.body.error.message).toContain('127.0.0.2');
    expect((await call('GET', '/v1/environments?limit=100')).body.data.length).toBe(before);
  });

  it('refuses it on update and keeps the stored networking', async () => {
    const created = await call('POST', '/v1/environments', { name: 'dev server', config: limited(['127.0.0.2', 'api.example.com']) });
    expect(created.status).toBe(200);
    const r = await call('POST', `/v1/environments/${created.body.id}`, { config: limited(['localhost']) });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('config.networking.allowed_hosts[0]');
    const after = await call('GET', `/v1/environments/${created.body.id}`);
    expect(after.body.config.networking.allowed_hosts).toEqual(['127.0.0.2', 'api.example.com']);
    expect(after.body.updated_at).toBe(created.body.updated_at);
  });

  it('accepts other loopback addresses and names that merely contain "localhost"', async () => {
    const r = await call('POST', '/v1/environments', { name: 'fine', config: limited(['127.0.0.2', '127.0.0.3:8080', 'localhost.example.com', 'mylocalhost']) });
    expect(r.status).toBe(200);
    expect(r.body.config.networking.allowed_hosts).toEqual(['127.0.0.2', '127.0.0.3:8080', 'localhost.example.com', 'mylocalhost']);
  });
});
