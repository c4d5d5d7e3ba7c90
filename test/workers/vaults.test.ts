// Vaults and credentials: the official API's shapes, secrets that are write-only and sealed at rest, validation
// that names the field, credentials scoped to their vault and workspace, and sessions that reference vaults.
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WORKSPACE_ID } from '../../worker/env.ts';
import { loadKeyring } from '../../vault/crypto.ts';
import { call, KEY, makeSession, registerKey } from './api.ts';

const OTHER_KEY = 'test-key-vaults-second-workspace';
const NO_VAULT_KEY_KEY = 'test-key-vaults-no-master-key';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The raw response text too, so a test can show a secret appears nowhere in it. */
async function rawCall(method: string, path: string, body?: unknown, key = KEY): Promise<{ status: number; text: string; body: any }> {
  const init: RequestInit = { method, headers: { 'x-api-key': key } };
  if (body !== undefined) {
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await SELF.fetch(`http://edgeharness.test${path}`, init);
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : null };
}

async function makeVault(name = 'Alice', key = KEY): Promise<string> {
  const r = await call('POST', '/v1/vaults', { display_name: name }, key);
  expect(r.status).toBe(200);
  return r.body.id;
}

function envVar(secretName: string, secretValue: string, extra: Record<string, unknown> = {}) {
  return { auth: { type: 'environment_variable', secret_name: secretName, secret_value: secretValue, networking: { type: 'unrestricted' }, ...extra } };
}

async function makeCredential(vaultId: string, body: unknown, key = KEY): Promise<any> {
  const r = await call('POST', `/v1/vaults/${vaultId}/credentials`, body, key);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const workspaceStore = (workspaceId = DEFAULT_WORKSPACE_ID) => env.WORKSPACE.get(env.WORKSPACE.idFromName(workspaceId));

async function credentialRow(credentialId: string): Promise<Record<string, unknown> | undefined> {
  return runInDurableObject(workspaceStore(), async (_obj, state) =>
    state.storage.sql.exec(`SELECT * FROM vault_credentials WHERE id = ?`, credentialId).toArray()[0],
  );
}

beforeAll(async () => {
  await registerKey(OTHER_KEY, 'wrkspc_vaults_second');
  await registerKey(NO_VAULT_KEY_KEY, 'wrkspc_vaults_no_master_key');
});

describe('vaults', () => {
  it('creates, retrieves, lists, updates, archives and deletes a vault', async () => {
    const created = await call('POST', '/v1/vaults', { display_name: 'Alice', metadata: { external_user_id: 'usr_abc123' } });
    expect(created.status).toBe(200);
    const v = created.body;
    expect(v).toEqual({
      type: 'vault',
      id: expect.stringMatching(/^vlt_[0-9A-Za-z]{24}$/),
      display_name: 'Alice',
      metadata: { external_user_id: 'usr_abc123' },
      created_at: expect.stringMatching(ISO),
      updated_at: v.created_at,
      archived_at: null,
    });
    expect((await call('GET', `/v1/vaults/${v.id}`)).body).toEqual(v);
    expect((await call('GET', '/v1/vaults?limit=100')).body.data).toContainEqual(v);

    const updated = await call('POST', `/v1/vaults/${v.id}`, { display_name: 'Alice B.', metadata: { external_user_id: null, tier: 'pro' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: v.id, display_name: 'Alice B.', metadata: { tier: 'pro' }, archived_at: null });

    const archived = await call('POST', `/v1/vaults/${v.id}/archive`);
    expect(archived.body.archived_at).toMatch(ISO);
    expect((await call('GET', '/v1/vaults?limit=100')).body.data.map((x: any) => x.id)).not.toContain(v.id);
    expect((await call('GET', '/v1/vaults?limit=100&include_archived=true')).body.data.map((x: any) => x.id)).toContain(v.id);
    const renamed = await call('POST', `/v1/vaults/${v.id}`, { display_name: 'again' });
    expect(renamed.status).toBe(400);
    expect(renamed.body.error.message).toContain('archived');

    expect((await call('DELETE', `/v1/vaults/${v.id}`)).body).toEqual({ id: v.id, type: 'vault_deleted' });
    expect((await call('GET', `/v1/vaults/${v.id}`)).status).toBe(404);
  });

  it('keeps what an update leaves out or sets to null; an empty metadata value is stored, null deletes the key', async () => {
    const created = await call('POST', '/v1/vaults', { display_name: 'Kept', metadata: { a: '1', b: '2', c: '3' } });
    const id = created.body.id;
    const nulled = await call('POST', `/v1/vaults/${id}`, { display_name: null });
    expect(nulled.body).toMatchObject({ display_name: 'Kept', metadata: { a: '1', b: '2', c: '3' } });
    const patched = await call('POST', `/v1/vaults/${id}`, { metadata: { a: null, b: '', d: '4' } });
    expect(patched.body).toMatchObject({ display_name: 'Kept', metadata: { b: '', c: '3', d: '4' } });
    expect((await call('GET', `/v1/vaults/${id}`)).body).toEqual(patched.body);
  });

  it('pages through vaults newest first', async () => {
    const ids = [await makeVault('p1'), await makeVault('p2'), await makeVault('p3')];
    const first = await call('GET', '/v1/vaults?limit=2');
    expect(first.body.data.map((x: any) => x.id)).toEqual([ids[2], ids[1]]);
    const second = await call('GET', `/v1/vaults?limit=2&page=${first.body.next_page}`);
    expect(second.body.data[0].id).toBe(ids[0]);
  });

  it('refuses a bad display_name or an unknown field, naming it', async () => {
    const before = (await call('GET', '/v1/vaults?limit=100')).body.data.length;
    for (const [body, field] of [
      [{ display_name: '' }, 'display_name'],
      [{ display_name: 'x'.repeat(256) }, 'display_name'],
      [{}, 'display_name'],
      [{ display_name: 'ok', owner: 'me' }, "'owner'"],
    ] as const) {
      const r = await call('POST', '/v1/vaults', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
      expect(r.body.error.message).toContain(field);
    }
    expect((await call('GET', '/v1/vaults?limit=100')).body.data.length).toBe(before);
  });
});

describe('credentials', () => {
  it('stores an environment_variable credential and answers with everything but its value', async () => {
    const vaultId = await makeVault();
    const created = await rawCall('POST', `/v1/vaults/${vaultId}/credentials`, {
      display_name: 'GitHub',
      metadata: { purpose: 'ci' },
      auth: {
        type: 'environment_variable',
        secret_name: 'GITHUB_TOKEN',
        secret_value: 'ghp_envsecret_0001',
        networking: { type: 'limited', allowed_hosts: ['api.github.com', '*.githubusercontent.com', '192.0.2.1'] },
      },
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      type: 'vault_credential',
      id: expect.stringMatching(/^vcrd_[0-9A-Za-z]{24}$/),
      vault_id: vaultId,
      display_name: 'GitHub',
      auth: {
        type: 'environment_variable',
        secret_name: 'GITHUB_TOKEN',
        networking: { type: 'limited', allowed_hosts: ['api.github.com', '*.githubusercontent.com', '192.0.2.1'] },
        injection_location: { header: true, body: false },
      },
      metadata: { purpose: 'ci' },
      created_at: expect.stringMatching(ISO),
      updated_at: created.body.created_at,
      archived_at: null,
    });
    const id = created.body.id;
    const retrieved = await rawCall('GET', `/v1/vaults/${vaultId}/credentials/${id}`);
    expect(retrieved.body).toEqual(created.body);
    const listed = await rawCall('GET', `/v1/vaults/${vaultId}/credentials`);
    expect(listed.body).toEqual({ data: [created.body], next_page: null });
    for (const r of [created, retrieved, listed]) expect(r.text).not.toContain('ghp_envsecret_0001');
  });

  it('stores static_bearer and mcp_oauth credentials and answers without their tokens', async () => {
    const vaultId = await makeVault();
    const bearer = await rawCall('POST', `/v1/vaults/${vaultId}/credentials`, {
      auth: { type: 'static_bearer', token: 'bearer_secret_0002', mcp_server_url: 'https://mcp.example.com/sse' },
    });
    expect(bearer.status).toBe(200);
    expect(bearer.body).toMatchObject({ display_name: null, metadata: {}, vault_id: vaultId });
    expect(bearer.body.auth).toEqual({ type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse' });

    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const oauth = await rawCall('POST', `/v1/vaults/${vaultId}/credentials`, {
      display_name: 'Linear',
      auth: {
        type: 'mcp_oauth',
        access_token: 'oauth_access_0003',
        mcp_server_url: 'https://mcp.linear.example/mcp',
        expires_at: expiresAt,
        refresh: {
          client_id: 'client-123',
          refresh_token: 'oauth_refresh_0004',
          token_endpoint: 'https://auth.linear.example/token',
          token_endpoint_auth: { type: 'client_secret_post', client_secret: 'oauth_client_0005' },
          scope: 'read write',
        },
      },
    });
    expect(oauth.status).toBe(200);
    expect(oauth.body.auth).toEqual({
      type: 'mcp_oauth',
      mcp_server_url: 'https://mcp.linear.example/mcp',
      expires_at: expiresAt,
      refresh: {
        client_id: 'client-123',
        token_endpoint: 'https://auth.linear.example/token',
        token_endpoint_auth: { type: 'client_secret_post' },
        resource: null,
        scope: 'read write',
      },
    });
    const listed = await rawCall('GET', `/v1/vaults/${vaultId}/credentials`);
    expect(listed.body.data.map((c: any) => c.id)).toEqual([oauth.body.id, bearer.body.id]);
    for (const r of [bearer, oauth, listed])
      for (const secret of ['bearer_secret_0002', 'oauth_access_0003', 'oauth_refresh_0004', 'oauth_client_0005']) expect(r.text).not.toContain(secret);
  });

  it('never returns a secret: create, retrieve, list, update and archive of every type', async () => {
    const vaultId = await makeVault();
    const texts: string[] = [];
    const secrets = ['env_value_0101', 'env_value_0102', 'bearer_0103', 'bearer_0104', 'access_0105', 'access_0106', 'refresh_0107', 'refresh_0108', 'client_0109', 'client_0110'];
    const creates = [
      envVar('API_KEY', 'env_value_0101'),
      { auth: { type: 'static_bearer', token: 'bearer_0103', mcp_server_url: 'https://mcp.one.example/' } },
      {
        auth: {
          type: 'mcp_oauth',
          access_token: 'access_0105',
          mcp_server_url: 'https://mcp.two.example/',
          refresh: { client_id: 'c', refresh_token: 'refresh_0107', token_endpoint: 'https://two.example/token', token_endpoint_auth: { type: 'client_secret_basic', client_secret: 'client_0109' } },
        },
      },
    ];
    const updates = [
      { auth: { type: 'environment_variable', secret_value: 'env_value_0102' } },
      { auth: { type: 'static_bearer', token: 'bearer_0104' } },
      { auth: { type: 'mcp_oauth', access_token: 'access_0106', refresh: { refresh_token: 'refresh_0108', token_endpoint_auth: { type: 'client_secret_basic', client_secret: 'client_0110' } } } },
    ];
    for (const [i, body] of creates.entries()) {
      const created = await rawCall('POST', `/v1/vaults/${vaultId}/credentials`, body);
      expect(created.status, created.text).toBe(200);
      const base = `/v1/vaults/${vaultId}/credentials/${created.body.id}`;
      const updated = await rawCall('POST', base, updates[i]);
      expect(updated.status, updated.text).toBe(200);
      texts.push(created.text, (await rawCall('GET', base)).text, (await rawCall('GET', `/v1/vaults/${vaultId}/credentials`)).text, updated.text);
      texts.push((await rawCall('POST', `${base}/archive`)).text, (await rawCall('GET', `/v1/vaults/${vaultId}/credentials?include_archived=true`)).text);
    }
    expect(texts).toHaveLength(18);
    for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it('updates a credential: networking replaced whole, injection and metadata patched, value replaced', async () => {
    const vaultId = await makeVault();
    const c = await makeCredential(vaultId, {
      metadata: { a: '1', b: '2' },
      ...envVar('DEPLOY_TOKEN', 'old_value', { networking: { type: 'limited', allowed_hosts: ['a.example.com', 'b.example.com'] } }),
    });
    const r = await call('POST', `/v1/vaults/${vaultId}/credentials/${c.id}`, {
      display_name: 'Deploy',
      metadata: { a: null, c: '3' },
      auth: { type: 'environment_variable', secret_value: 'new_value', networking: { type: 'limited', allowed_hosts: ['c.example.com'] }, injection_location: { body: true } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      id: c.id,
      display_name: 'Deploy',
      metadata: { b: '2', c: '3' },
      auth: {
        type: 'environment_variable',
        secret_name: 'DEPLOY_TOKEN',
        networking: { type: 'limited', allowed_hosts: ['c.example.com'] },
        injection_location: { header: true, body: true },
      },
    });
    const [credential] = await workspaceStore().sessionCredentials([vaultId]);
    expect(credential?.value).toBe('new_value');
    // Only the display name: the secret stays.
    expect((await call('POST', `/v1/vaults/${vaultId}/credentials/${c.id}`, { display_name: 'Deploy 2' })).status).toBe(200);
    expect((await workspaceStore().sessionCredentials([vaultId]))[0]?.value).toBe('new_value');
  });

  it('keeps a credential’s display_name and metadata when an update leaves them out or sets display_name to null', async () => {
    const vaultId = await makeVault();
    const c = await makeCredential(vaultId, { display_name: 'Deploy', metadata: { a: '1', b: '2' }, ...envVar('KEPT_TOKEN', 'v') });
    const nulled = await call('POST', `/v1/vaults/${vaultId}/credentials/${c.id}`, { display_name: null });
    expect(nulled.body).toMatchObject({ display_name: 'Deploy', metadata: { a: '1', b: '2' } });
    const patched = await call('POST', `/v1/vaults/${vaultId}/credentials/${c.id}`, { metadata: { a: null, b: '' } });
    expect(patched.body).toMatchObject({ display_name: 'Deploy', metadata: { b: '' } });
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials/${c.id}`)).body).toEqual(patched.body);
  });

  it('refuses invalid credentials naming the field, and stores nothing', async () => {
    const vaultId = await makeVault();
    const limited = (allowed_hosts: unknown) => envVar('TOKEN', 'v', { networking: { type: 'limited', allowed_hosts } });
    const cases: Array<[unknown, string]> = [
      [limited(['api.example.com', 'https://api.example.com']), 'auth.networking.allowed_hosts[1]: '],
      [limited(['api.example.com', 'ok.example.com', 'api.example.com:443']), 'auth.networking.allowed_hosts[2]: '],
      [limited(['api.example.com/v1']), 'auth.networking.allowed_hosts[0]: '],
      [limited(['2001:db8::1']), 'IPv6'],
      [limited(['[2001:db8::1]']), 'auth.networking.allowed_hosts[0]: '],
      [limited(['300.1.1.1']), 'IPv4'],
      [limited(['api.*.example.com']), 'wildcard'],
      [limited(Array.from({ length: 17 }, (_, i) => `h${i}.example.com`)), 'auth.networking.allowed_hosts: at most 16'],
      [limited([]), 'auth.networking.allowed_hosts'],
      [envVar('PATH', 'v'), "auth.secret_name: 'PATH' is reserved"],
      [envVar('HTTPS_PROXY', 'v'), 'auth.secret_name'],
      [envVar('1TOKEN', 'v'), 'auth.secret_name: expected an environment variable name'],
      [envVar('MY-TOKEN', 'v'), 'auth.secret_name'],
      [envVar('T'.repeat(129), 'v'), 'auth.secret_name'],
      [envVar('TOKEN', ''), 'auth.secret_value: must not be empty'],
      [envVar('TOKEN', 'x'.repeat(64 * 1024 + 1)), 'auth.secret_value'],
      [envVar('TOKEN', 'v', { injection_location: { header: false, body: false } }), 'auth.injection_location'],
      [envVar('TOKEN', 'v', { injection_location: { header: false } }), 'auth.injection_location'],
      [{ auth: { type: 'static_bearer', token: 't', mcp_server_url: 'ftp://mcp.example.com' } }, 'auth.mcp_server_url: expected an https:// URL'],
      [{ auth: { type: 'static_bearer', token: 't', mcp_server_url: 'https://mcp.example.com', extra: 1 } }, "'extra'"],
      [{ auth: { type: 'mcp_oauth', access_token: 't', mcp_server_url: 'https://m.example.com', expires_at: '2001-01-01T00:00:00Z' } }, 'auth.expires_at: must be in the future'],
      [
        { auth: { type: 'mcp_oauth', access_token: 't', mcp_server_url: 'https://m.example.com', refresh: { client_id: 'c', refresh_token: 'r', token_endpoint: 'https://x.example/t', token_endpoint_auth: { type: 'client_secret_post' } } } },
        'auth.refresh.token_endpoint_auth.client_secret',
      ],
      [{ auth: { type: 'password', value: 'x' } }, 'auth.type'],
      [{ ...envVar('TOKEN', 'v'), owner: 'me' }, "'owner'"],
    ];
    for (const [body, mention] of cases) {
      const r = await call('POST', `/v1/vaults/${vaultId}/credentials`, body);
      expect(r.status, JSON.stringify(body).slice(0, 200)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
      expect(r.body.error.message).toContain(mention);
    }
    const list = await call('GET', `/v1/vaults/${vaultId}/credentials?include_archived=true`);
    expect(list.body.data).toEqual([]);
  });

  it('accepts bare hostnames, IPv4 addresses and *. wildcards', async () => {
    const vaultId = await makeVault();
    const hosts = ['api.example.com', 'localhost', '10.0.0.1', '*.example.org', 'xn--bcher-kva.example'];
    const c = await makeCredential(vaultId, envVar('HOSTS_OK', 'v', { networking: { type: 'limited', allowed_hosts: hosts } }));
    expect(c.auth.networking).toEqual({ type: 'limited', allowed_hosts: hosts });
  });

  it('refuses to change a credential’s type or immutable fields, or to disable every injection location', async () => {
    const vaultId = await makeVault();
    const c = await makeCredential(vaultId, envVar('TYPED', 'v'));
    const base = `/v1/vaults/${vaultId}/credentials/${c.id}`;
    for (const [body, mention] of [
      [{ auth: { type: 'static_bearer', token: 't' } }, 'auth.type: this credential is environment_variable'],
      [{ auth: { type: 'environment_variable', secret_name: 'OTHER' } }, 'auth.secret_name: cannot be changed'],
      [{ auth: { type: 'environment_variable', injection_location: { header: false } } }, 'auth.injection_location'],
      [{ auth: { type: 'environment_variable', networking: { type: 'limited', allowed_hosts: ['h:1'] } } }, 'auth.networking.allowed_hosts[0]'],
      [{ display_name: '' }, 'display_name'],
    ] as const) {
      const r = await call('POST', base, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toContain(mention);
    }
    expect((await call('GET', base)).body).toEqual(c);
    const bearer = await makeCredential(vaultId, { auth: { type: 'static_bearer', token: 't', mcp_server_url: 'https://m.example.com' } });
    const moved = await call('POST', `/v1/vaults/${vaultId}/credentials/${bearer.id}`, { auth: { type: 'static_bearer', mcp_server_url: 'https://elsewhere.example.com' } });
    expect(moved.status).toBe(400);
    expect(moved.body.error.message).toContain('auth.mcp_server_url: cannot be changed');
  });

  it('refuses a second active credential for the same variable in one vault', async () => {
    const vaultId = await makeVault();
    const first = await makeCredential(vaultId, envVar('SHARED', 'one'));
    const again = await call('POST', `/v1/vaults/${vaultId}/credentials`, envVar('SHARED', 'two'));
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('auth.secret_name');
    expect(again.body.error.message).toContain(first.id);
    await call('POST', `/v1/vaults/${vaultId}/credentials/${first.id}/archive`);
    expect((await call('POST', `/v1/vaults/${vaultId}/credentials`, envVar('SHARED', 'two'))).status).toBe(200);
  });

  it('keeps a credential inside its vault: another vault’s path to it is 404', async () => {
    const a = await makeVault('A');
    const b = await makeVault('B');
    const ofB = await makeCredential(b, envVar('ONLY_B', 'v'));
    for (const [method, path, body] of [
      ['GET', `/v1/vaults/${a}/credentials/${ofB.id}`],
      ['POST', `/v1/vaults/${a}/credentials/${ofB.id}`, { display_name: 'x' }],
      ['POST', `/v1/vaults/${a}/credentials/${ofB.id}/archive`],
      ['DELETE', `/v1/vaults/${a}/credentials/${ofB.id}`],
      ['GET', `/v1/vaults/vlt_nope/credentials`],
      ['POST', `/v1/vaults/vlt_nope/credentials`, envVar('X', 'v')],
    ] as const) {
      const r = await call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.type).toBe('not_found_error');
    }
    expect((await call('GET', `/v1/vaults/${b}/credentials/${ofB.id}`)).body).toEqual(ofB);
  });

  it('archives credentials: out of lists, not updatable; an archived vault archives its own and takes no new ones', async () => {
    const vaultId = await makeVault();
    const keep = await makeCredential(vaultId, envVar('KEEP', 'v'));
    const gone = await makeCredential(vaultId, envVar('GONE', 'v'));
    const archived = await call('POST', `/v1/vaults/${vaultId}/credentials/${gone.id}/archive`);
    expect(archived.body).toMatchObject({ id: gone.id, archived_at: expect.stringMatching(ISO) });
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials`)).body.data.map((c: any) => c.id)).toEqual([keep.id]);
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials?include_archived=true`)).body.data.map((c: any) => c.id)).toEqual([gone.id, keep.id]);
    const update = await call('POST', `/v1/vaults/${vaultId}/credentials/${gone.id}`, { display_name: 'back' });
    expect(update.status).toBe(400);
    expect(update.body.error.message).toContain('archived');

    await call('POST', `/v1/vaults/${vaultId}/archive`);
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials/${keep.id}`)).body.archived_at).toMatch(ISO);
    const add = await call('POST', `/v1/vaults/${vaultId}/credentials`, envVar('LATE', 'v'));
    expect(add.status).toBe(400);
    expect(add.body.error.message).toContain('archived');
  });

  it('deletes a credential, and a vault with all of its credentials', async () => {
    const vaultId = await makeVault();
    const one = await makeCredential(vaultId, envVar('ONE', 'v'));
    const two = await makeCredential(vaultId, envVar('TWO', 'v'));
    expect((await call('DELETE', `/v1/vaults/${vaultId}/credentials/${one.id}`)).body).toEqual({ id: one.id, type: 'vault_credential_deleted' });
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials/${one.id}`)).status).toBe(404);
    expect(await credentialRow(one.id)).toBeUndefined();
    expect((await call('DELETE', `/v1/vaults/${vaultId}`)).status).toBe(200);
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials/${two.id}`)).status).toBe(404);
    expect(await credentialRow(two.id)).toBeUndefined();
  });

  it('stores a secret only sealed, under the current key id, and drops it on archive', async () => {
    const vaultId = await makeVault();
    const c = await makeCredential(vaultId, envVar('SEALED', 'plaintext_never_stored_0201'));
    const { current } = await loadKeyring(env);
    const row = await credentialRow(c.id);
    expect(row).toMatchObject({ key_id: current.id, vault_id: vaultId, auth_type: 'environment_variable' });
    expect(typeof row?.ciphertext).toBe('string');
    expect(typeof row?.iv).toBe('string');
    expect(JSON.stringify(row)).not.toContain('plaintext_never_stored_0201');
    expect(JSON.stringify(row)).not.toContain(btoa('plaintext_never_stored_0201'));

    await call('POST', `/v1/vaults/${vaultId}/credentials/${c.id}/archive`);
    expect(await credentialRow(c.id)).toMatchObject({ key_id: null, iv: null, ciphertext: null });
  });

  // What the probe answers is tested against a real MCP server in mcp.test.ts; here, what it refuses.
  it('refuses mcp_oauth_validate for a credential of another type, and for an unknown one', async () => {
    const vaultId = await makeVault();
    const bearer = await makeCredential(vaultId, { auth: { type: 'static_bearer', token: 't', mcp_server_url: 'https://other.example.com' } });
    const refused = await call('POST', `/v1/vaults/${vaultId}/credentials/${bearer.id}/mcp_oauth_validate`);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('mcp_oauth');
    const unknown = await call('POST', `/v1/vaults/${vaultId}/credentials/vcrd_nope/mcp_oauth_validate`);
    expect(unknown.status).toBe(404);
  });

  it('refuses an MCP server URL or token endpoint the brain would not send a token to, naming the field', async () => {
    const vaultId = await makeVault();
    const refresh = (token_endpoint: string) => ({ client_id: 'c', refresh_token: 'r', token_endpoint, token_endpoint_auth: { type: 'none' } });
    for (const [auth, field] of [
      [{ type: 'static_bearer', token: 't', mcp_server_url: 'http://mcp.example.com/mcp' }, 'auth.mcp_server_url'],
      [{ type: 'static_bearer', token: 't', mcp_server_url: 'http://127.0.0.1:8787/mcp' }, 'auth.mcp_server_url'],
      [{ type: 'mcp_oauth', access_token: 't', mcp_server_url: 'http://localhost:8787/mcp' }, 'auth.mcp_server_url'],
      [{ type: 'mcp_oauth', access_token: 't', mcp_server_url: 'https://m.example.com', refresh: refresh('http://127.0.0.1:8787/token') }, 'auth.refresh.token_endpoint'],
    ] as const) {
      const r = await call('POST', `/v1/vaults/${vaultId}/credentials`, { auth });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.message).toContain(`${field}: expected an https:// URL`);
    }
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials`)).body.data).toEqual([]);
    const local = await call('POST', `/v1/vaults/${vaultId}/credentials`, {
      auth: { type: 'mcp_oauth', access_token: 't', mcp_server_url: 'http://127.0.0.2:9000/mcp', refresh: refresh('http://127.0.0.2:9000/token') },
    });
    expect(local.status, JSON.stringify(local.body)).toBe(200);
  });

  it('hands a session its usable environment variables, decrypted, first vault first', async () => {
    const a = await makeVault('A');
    const b = await makeVault('B');
    const archivedVault = await makeVault('archived');
    const ghA = await makeCredential(a, envVar('GITHUB_TOKEN', 'gh_from_a', { networking: { type: 'limited', allowed_hosts: ['api.github.com'] }, injection_location: { body: true } }));
    const stale = await makeCredential(a, envVar('STALE', 'stale_value'));
    await makeCredential(a, { auth: { type: 'static_bearer', token: 'not_an_env_var', mcp_server_url: 'https://m.example.com' } });
    await makeCredential(b, envVar('GITHUB_TOKEN', 'gh_from_b'));
    const npm = await makeCredential(b, envVar('NPM_TOKEN', 'npm_from_b'));
    await makeCredential(archivedVault, envVar('FROM_ARCHIVED', 'x'));
    await call('POST', `/v1/vaults/${a}/credentials/${stale.id}/archive`);
    await call('POST', `/v1/vaults/${archivedVault}/archive`);

    const got = await workspaceStore().sessionCredentials([a, 'vlt_unknown', archivedVault, b]);
    expect(got).toEqual([
      {
        credentialId: ghA.id,
        vaultId: a,
        name: 'GITHUB_TOKEN',
        placeholder: `edgeharness_placeholder_${ghA.id}`,
        value: 'gh_from_a',
        networking: { type: 'limited', allowed_hosts: ['api.github.com'] },
        injection: { header: true, body: true },
      },
      {
        credentialId: npm.id,
        vaultId: b,
        name: 'NPM_TOKEN',
        placeholder: `edgeharness_placeholder_${npm.id}`,
        value: 'npm_from_b',
        networking: { type: 'unrestricted' },
        injection: { header: true, body: false },
      },
    ]);
    expect((await workspaceStore().sessionCredentials([b, a])).map((c) => c.value)).toEqual(['gh_from_b', 'npm_from_b']);
    expect(await workspaceStore().sessionCredentials([])).toEqual([]);
  });

  it('refuses to store a credential when the runtime has no vault master key, saying so', async () => {
    const vaultId = await makeVault('no key', NO_VAULT_KEY_KEY);
    await runInDurableObject(workspaceStore('wrkspc_vaults_no_master_key'), async (obj) => {
      // This instance only: the bindings of every other object keep the test key.
      (obj as unknown as { env: Record<string, unknown> }).env = { ...env, VAULT_MASTER_KEY: undefined };
    });
    const r = await call('POST', `/v1/vaults/${vaultId}/credentials`, envVar('TOKEN', 'v'), NO_VAULT_KEY_KEY);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('no vault master key configured');
    expect(r.body.error.message).toContain('VAULT_MASTER_KEY');
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials?include_archived=true`, undefined, NO_VAULT_KEY_KEY)).body.data).toEqual([]);
  });
});

describe('sessions with vaults', () => {
  it('creates a session that names its vaults', async () => {
    const { agentId, environmentId } = await makeSession();
    const vaultId = await makeVault();
    await makeCredential(vaultId, envVar('SESSION_TOKEN', 'v'));
    const s = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, vault_ids: [vaultId] });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    expect(s.body.vault_ids).toEqual([vaultId]);
    expect((await call('GET', `/v1/sessions/${s.body.id}`)).body.vault_ids).toEqual([vaultId]);
  });

  it('refuses unknown, archived and repeated vault ids, creating nothing', async () => {
    const { agentId, environmentId } = await makeSession();
    const ok = await makeVault();
    const archived = await makeVault();
    await call('POST', `/v1/vaults/${archived}/archive`);
    const before = (await call('GET', '/v1/sessions?limit=100')).body.data.length;
    for (const [vault_ids, status, mention] of [
      [[ok, 'vlt_unknown'], 404, "vault_ids[1]: vault 'vlt_unknown' not found"],
      [[archived], 400, `vault_ids[0]: vault '${archived}' is archived`],
      [[ok, ok], 400, 'vault_ids[1]'],
    ] as const) {
      const r = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, vault_ids });
      expect(r.status, JSON.stringify(vault_ids)).toBe(status);
      expect(r.body.error.message).toContain(mention);
    }
    expect((await call('GET', '/v1/sessions?limit=100')).body.data.length).toBe(before);
  });

  it('refuses to change vault_ids after the session is created', async () => {
    const { sessionId } = await makeSession();
    const vaultId = await makeVault();
    for (const vault_ids of [[vaultId], []]) {
      const r = await call('POST', `/v1/sessions/${sessionId}`, { vault_ids });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('vault_ids: cannot be changed after the session is created');
    }
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.vault_ids).toEqual([]);
  });
});

describe('vault tenancy', () => {
  it('answers 404 to another workspace for this workspace’s vaults and credentials', async () => {
    const vaultId = await makeVault('private');
    const c = await makeCredential(vaultId, envVar('PRIVATE', 'private_value'));
    for (const [method, path, body] of [
      ['GET', `/v1/vaults/${vaultId}`],
      ['POST', `/v1/vaults/${vaultId}`, { display_name: 'hijacked' }],
      ['POST', `/v1/vaults/${vaultId}/archive`],
      ['DELETE', `/v1/vaults/${vaultId}`],
      ['GET', `/v1/vaults/${vaultId}/credentials`],
      ['POST', `/v1/vaults/${vaultId}/credentials`, envVar('INJECTED', 'v')],
      ['GET', `/v1/vaults/${vaultId}/credentials/${c.id}`],
      ['POST', `/v1/vaults/${vaultId}/credentials/${c.id}`, { display_name: 'x' }],
      ['POST', `/v1/vaults/${vaultId}/credentials/${c.id}/archive`],
      ['POST', `/v1/vaults/${vaultId}/credentials/${c.id}/mcp_oauth_validate`],
      ['DELETE', `/v1/vaults/${vaultId}/credentials/${c.id}`],
    ] as const) {
      const r = await call(method, path, body, OTHER_KEY);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.type).toBe('not_found_error');
    }
    expect((await call('GET', '/v1/vaults?limit=100&include_archived=true', undefined, OTHER_KEY)).body.data).toEqual([]);
    expect((await call('GET', `/v1/vaults/${vaultId}/credentials/${c.id}`)).body).toEqual(c);
    expect(await workspaceStore('wrkspc_vaults_second').sessionCredentials([vaultId])).toEqual([]);

    const theirs = await makeSession(OTHER_KEY);
    const before = (await call('GET', '/v1/sessions?limit=100', undefined, OTHER_KEY)).body.data.length;
    const s = await call('POST', '/v1/sessions', { agent: theirs.agentId, environment_id: theirs.environmentId, vault_ids: [vaultId] }, OTHER_KEY);
    expect(s.status).toBe(404);
    expect(s.body.error.message).toContain(`vault_ids[0]: vault '${vaultId}' not found`);
    expect((await call('GET', '/v1/sessions?limit=100', undefined, OTHER_KEY)).body.data.length).toBe(before);
  });
});
