// Environments: where a session's tools run. An archived environment takes no updates and no new sessions;
// deleting one leaves the sessions that used it as they are.
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import { applyEnvironmentUpdate, normalizeConfig, type Environment, type EnvironmentCreateParams, type EnvironmentUpdateParams } from '../../contract/environment.ts';
import { MAX_ROW_BYTES, storedSizeProblem } from '../../contract/size-limits.ts';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { listBodies, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { archiveRow, readBody, serialise, timestamp, touched, writeBody } from '../shared/rows.ts';

const TABLE = 'environments';

const notFound = (id: string): Result<never> => fail('not_found_error', `environment '${id}' not found`, 'environment_not_found');

export class Environments extends Queries {
  create(p: EnvironmentCreateParams): Result<Environment> {
    const now = timestamp();
    const env: Environment = {
      type: 'environment',
      id: newId('env'),
      name: p.name,
      description: p.description ?? null,
      config: normalizeConfig(p.config),
      metadata: p.metadata ?? {},
      scope: p.scope ?? 'organization',
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const tooBig = storedSizeProblem(env, MAX_ROW_BYTES, 'environment');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.sql.exec(`INSERT INTO environments (id, created_at, body) VALUES (?, ?, ?)`, env.id, now, serialise(env));
    return ok(env);
  }

  // get and update read as they do in every resource module, deliberately: the not-found error and the
  // field rules are each resource's own.
  get(id: string): Result<Environment> {
    const env = this.find(id);
    return env ? ok(env) : notFound(id);
  }

  update(id: string, p: EnvironmentUpdateParams): Result<Environment> {
    const env = this.find(id);
    if (!env) return notFound(id);
    if (env.archived_at) return fail('invalid_request_error', `environment '${id}' is archived`, 'environment_archived');
    const fields = applyEnvironmentUpdate(env, p);
    if (!fields.ok) return fields;
    const metadata = applyMetadataPatch(env.metadata, p.metadata, { emptyDeletes: true });
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata, 'invalid_metadata');
    const stored = touched({ ...env, ...fields.value, metadata });
    const tooBig = storedSizeProblem(stored, MAX_ROW_BYTES, 'environment');
    if (tooBig) return fail('invalid_request_error', tooBig);
    writeBody(this.sql, TABLE, stored);
    return ok(stored);
  }

  list(args: ListArgs): Result<Page<Environment>> {
    return listBodies<Environment>(this.sql, TABLE, args);
  }

  delete(id: string): Result<{ id: string; type: 'environment_deleted' }> {
    if (!this.find(id)) return notFound(id);
    this.sql.exec(`DELETE FROM environments WHERE id = ?`, id);
    return ok({ id, type: 'environment_deleted' });
  }

  archive(id: string): Result<Environment> {
    const env = this.find(id);
    if (!env) return notFound(id);
    return ok(archiveRow(this.sql, TABLE, env));
  }

  /** The environment, archived or not; undefined when this workspace has none of that id. */
  find(id: string): Environment | undefined {
    return readBody<Environment>(this.sql, TABLE, id);
  }
}
