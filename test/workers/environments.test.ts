// Environment updates follow the SDK's rules field by field: an omitted (or null) field keeps its stored value,
// `limited` networking merges with the stored `limited` one, another networking type replaces it, `packages`
// replaces the stored lists as a whole, an empty description is stored as given, and an empty metadata value
// deletes its key.
import { describe, expect, it } from 'vitest';
import { call, updated } from './api.ts';

const limited = {
  type: 'limited',
  allowed_hosts: ['api.example.com'],
  allow_mcp_servers: true,
  allow_package_managers: true,
};

async function makeEnvironment(body: Record<string, unknown> = {}): Promise<any> {
  const r = await call('POST', '/v1/environments', { name: 'env', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const update = (id: string, body: unknown) => updated(`/v1/environments/${id}`, body);

describe('environment update: config', () => {
  it('keeps limited networking when the update’s config omits networking', async () => {
    const created = await makeEnvironment({ config: { type: 'cloud', networking: limited, packages: { pip: ['numpy'] } } });
    const updated = await update(created.id, { config: { type: 'cloud', packages: { pip: ['pandas'] } } });
    expect(updated.config.networking).toEqual(limited);
    expect(updated.config.packages.pip).toEqual(['pandas']);
  });

  it('keeps limited networking when networking is null', async () => {
    const created = await makeEnvironment({ config: { type: 'cloud', networking: limited } });
    const updated = await update(created.id, { config: { type: 'cloud', networking: null } });
    expect(updated.config.networking).toEqual(limited);
  });

  it('keeps packages when the update’s config omits them, or sends null', async () => {
    const created = await makeEnvironment({ config: { type: 'cloud', packages: { apt: ['ffmpeg'], npm: ['left-pad'] } } });
    const omitted = await update(created.id, { config: { type: 'cloud', networking: { type: 'unrestricted' } } });
    expect(omitted.config.packages).toEqual(created.config.packages);
    const nulled = await update(created.id, { config: { type: 'cloud', packages: null } });
    expect(nulled.config.packages).toEqual(created.config.packages);
  });

  it('replaces packages as a whole: a list the update leaves out is emptied', async () => {
    const created = await makeEnvironment({ config: { type: 'cloud', packages: { apt: ['ffmpeg'], pip: ['numpy'] } } });
    const updated = await update(created.id, { config: { type: 'cloud', packages: { pip: ['pandas'] } } });
    expect(updated.config.packages).toEqual({ type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: ['pandas'] });
  });

  it('merges a partial limited networking into the stored limited one, field by field', async () => {
    const created = await makeEnvironment({ config: { type: 'cloud', networking: limited } });
    const hosts = await update(created.id, { config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['pypi.org'] } } });
    expect(hosts.config.networking).toEqual({ ...limited, allowed_hosts: ['pypi.org'] });
    const flag = await update(created.id, { config: { type: 'cloud', networking: { type: 'limited', allow_mcp_servers: false } } });
    expect(flag.config.networking).toEqual({ ...limited, allowed_hosts: ['pypi.org'], allow_mcp_servers: false });
    const nulls = await update(created.id, {
      config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: null, allow_mcp_servers: null, allow_package_managers: null } },
    });
    expect(nulls.config.networking).toEqual(flag.config.networking);
    const cleared = await update(created.id, { config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [] } } });
    expect(cleared.config.networking).toEqual({ ...flag.config.networking, allowed_hosts: [] });
  });

  it('replaces networking of another type: limited from unrestricted takes the creation defaults, unrestricted drops the hosts', async () => {
    const created = await makeEnvironment();
    expect(created.config.networking).toEqual({ type: 'unrestricted' });
    const narrowed = await update(created.id, { config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['api.example.com'] } } });
    expect(narrowed.config.networking).toEqual({
      type: 'limited',
      allowed_hosts: ['api.example.com'],
      allow_mcp_servers: false,
      allow_package_managers: false,
    });
    const opened = await update(created.id, { config: { type: 'cloud', networking: { type: 'unrestricted' } } });
    expect(opened.config.networking).toEqual({ type: 'unrestricted' });
  });

  it('keeps the whole config when config is omitted or null', async () => {
    const created = await makeEnvironment({ config: { type: 'cloud', networking: limited, packages: { go: ['x'] } } });
    expect((await update(created.id, { name: 'renamed' })).config).toEqual(created.config);
    expect((await update(created.id, { config: null })).config).toEqual(created.config);
  });
});

describe('environment update: description, name, scope, metadata', () => {
  it('stores an empty description as an empty string, clears it with null, keeps it when omitted', async () => {
    const created = await makeEnvironment({ description: 'GPU box' });
    expect((await update(created.id, { name: 'renamed' })).description).toBe('GPU box');
    expect((await update(created.id, { description: '' })).description).toBe('');
    expect((await update(created.id, { description: 'back' })).description).toBe('back');
    expect((await update(created.id, { description: null })).description).toBeNull();
  });

  it('keeps name and scope when they are null', async () => {
    const created = await makeEnvironment({ name: 'kept', scope: 'organization' });
    const updated = await update(created.id, { name: null, scope: null });
    expect(updated).toMatchObject({ name: 'kept', scope: 'organization' });
  });

  it('deletes a metadata key set to null or to an empty string, upserts the others, keeps those left out', async () => {
    const created = await makeEnvironment({ metadata: { a: '1', b: '2', c: '3' } });
    const updated = await update(created.id, { metadata: { a: null, b: '', d: '4' } });
    expect(updated.metadata).toEqual({ c: '3', d: '4' });
  });
});
