// The environments module queried directly: defaults filled in on create, the config type fixed for life, an
// archived environment frozen, deletes and lists.
import { describe, expect, it } from 'vitest';
import { Environments } from '../../../resources/environments/environments.ts';
import { inWorkspace, refusal, value } from './workspace.ts';

describe('environments', () => {
  it('fills in an unrestricted cloud config with no packages, and the organization scope', () =>
    inWorkspace('environments_create', (storage) => {
      const environments = new Environments(storage);
      const env = value(environments.create({ name: 'e' }));
      expect(env).toMatchObject({
        type: 'environment',
        name: 'e',
        description: null,
        scope: 'organization',
        metadata: {},
        archived_at: null,
        config: { type: 'cloud', networking: { type: 'unrestricted' }, packages: { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] } },
      });
      expect(value(environments.get(env.id))).toEqual(env);
      expect(refusal(environments.get('env_missing'))).toEqual({ type: 'not_found_error', message: "environment 'env_missing' not found", code: 'environment_not_found' });
    }));

  it('refuses to change the config type, with its error code', () =>
    inWorkspace('environments_type', (storage) => {
      const environments = new Environments(storage);
      const env = value(environments.create({ name: 'e' }));
      expect(refusal(environments.update(env.id, { config: { type: 'self_hosted' } }))).toEqual({
        type: 'invalid_request_error',
        message: "config.type: cannot change from 'cloud' to 'self_hosted'",
        code: 'invalid_config_type_change',
      });
    }));

  it('stamps updated_at on update and refuses to update an archived environment', () =>
    inWorkspace('environments_archive', (storage) => {
      const environments = new Environments(storage);
      const env = value(environments.create({ name: 'e' }));
      const renamed = value(environments.update(env.id, { name: 'f' }));
      expect(renamed.name).toBe('f');
      expect(renamed.updated_at >= env.updated_at).toBe(true);
      const archived = value(environments.archive(env.id));
      expect(archived.archived_at).toBe(archived.updated_at);
      expect(value(environments.archive(env.id))).toEqual(archived);
      expect(refusal(environments.update(env.id, { name: 'g' }))).toMatchObject({ code: 'environment_archived' });
      expect(value(environments.list({ limit: 10 })).data).toEqual([]);
      expect(value(environments.list({ limit: 10, includeArchived: true })).data).toEqual([archived]);
    }));

  it('deletes, after which it is not found', () =>
    inWorkspace('environments_delete', (storage) => {
      const environments = new Environments(storage);
      const env = value(environments.create({ name: 'e' }));
      expect(value(environments.delete(env.id))).toEqual({ id: env.id, type: 'environment_deleted' });
      expect(environments.find(env.id)).toBeUndefined();
      expect(refusal(environments.delete(env.id)).type).toBe('not_found_error');
    }));
});
