// The organization's routes (/v1/organizations/*, `client.beta.organization.*`) take the admin key alone: a workspace's
// API key is a 403 there, no key or a wrong one a 401, each in the official error envelope; the admin key opens no
// workspace route.
import { describe, expect, it } from 'vitest';
import { call, KEY } from './api.ts';

const ADMIN = 'test-admin-key';

describe('organization routes and the admin key', () => {
  it('refuses a missing or wrong key with 401 and a workspace key with 403, naming the admin key', async () => {
    const none = await call('GET', '/v1/organizations/workspaces', undefined, null);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(none.body.error.message).toMatch(/admin key/);

    const wrong = await call('GET', '/v1/organizations/workspaces', undefined, 'not-a-key');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.type).toBe('authentication_error');

    const workspaceKey = await call('GET', '/v1/organizations/workspaces', undefined, KEY);
    expect(workspaceKey.status).toBe(403);
    expect(workspaceKey.body).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(workspaceKey.body.error.message).toMatch(/EDGEHARNESS_ADMIN_KEY/);
  });

  it('lets the admin key through to the organization routes, and into no workspace route', async () => {
    // past authentication: a route that does not exist is the router's 404, not a 401 or 403
    const unknown = await call('GET', '/v1/organizations/no-such-route', undefined, ADMIN);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.type).toBe('not_found_error');

    const agents = await call('GET', '/v1/agents', undefined, ADMIN);
    expect(agents.status).toBe(401);
  });
});
