// Files: the metadata of each file of the workspace (its bytes are in R2, under a key the API derives from the
// workspace and the file id). A file is immutable once stored; delete removes it.
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import type { DeletedFile, FileMetadata } from '../../contract/file.ts';
import { newestFirst } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { deserialise, readBody, serialise } from '../shared/rows.ts';

const TABLE = 'files';

const notFound = (id: string): Result<never> => fail('not_found_error', `file '${id}' not found`, 'file_not_found');

export interface FileListArgs {
  limit: number;
  page?: string | undefined;
  /** Only these files, in one page (deleted and unknown ids are left out). */
  ids?: string[] | undefined;
  scopeId?: string | undefined;
}

export class Files extends Queries {
  /** Records a file whose bytes are already stored. The id is the caller's: it named the bytes first. */
  create(file: FileMetadata): Result<FileMetadata> {
    if (!file.id.startsWith('file_')) return fail('invalid_request_error', `id: expected a file id, got '${file.id}'`);
    this.sql.exec(`INSERT INTO files (id, created_at, scope_id, body) VALUES (?, ?, ?, ?)`, file.id, file.created_at, file.scope?.id ?? null, serialise(file));
    return ok(file);
  }

  // get reads as it does in every resource module, deliberately: the not-found error is each resource's own.
  get(id: string): Result<FileMetadata> {
    const file = this.find(id);
    return file ? ok(file) : notFound(id);
  }

  /**
   * The file, when its content may be read at `now`: one not downloadable is refused with the official
   * `file_not_downloadable` (400), one past its `expires_at` with `file_expired` (404).
   */
  readable(id: string, now: number): Result<FileMetadata> {
    const file = this.find(id);
    if (!file) return notFound(id);
    if (!file.downloadable) return fail('invalid_request_error', `file '${id}' is not downloadable`, 'file_not_downloadable');
    if (file.expires_at !== null && Date.parse(file.expires_at) <= now)
      return fail('not_found_error', `file '${id}' expired at ${file.expires_at}; its content is no longer available`, 'file_expired');
    return ok(file);
  }

  /** Newest first; by `ids`, one page of those that exist. */
  list(args: FileListArgs): Result<Page<FileMetadata>> {
    const where: string[] = [];
    const params: SqlStorageValue[] = [];
    if (args.scopeId !== undefined) {
      where.push('scope_id = ?');
      params.push(args.scopeId);
    }
    if (args.ids) {
      const ids = [...new Set(args.ids)];
      if (ids.length === 0) return ok({ data: [], next_page: null });
      where.push(`id IN (${ids.map(() => '?').join(', ')})`);
      params.push(...ids);
    }
    const page = newestFirst<{ body: string }>(
      this.sql,
      { from: TABLE, columns: 'body', where, params },
      args.ids ? { limit: args.ids.length } : args,
      (r) => r.body.length,
    );
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => deserialise<FileMetadata>(r.body)), next_page: args.ids ? null : page.value.next });
  }

  /** The files of `ids` this workspace has, by id; an id it has no file of is left out. */
  findMany(ids: string[]): Record<string, FileMetadata> {
    const out: Record<string, FileMetadata> = {};
    for (const id of new Set(ids)) {
      const file = this.find(id);
      if (file) out[id] = file;
    }
    return out;
  }

  delete(id: string): Result<DeletedFile> {
    if (!this.find(id)) return notFound(id);
    this.sql.exec(`DELETE FROM files WHERE id = ?`, id);
    return ok({ id, type: 'file_deleted' });
  }

  find(id: string): FileMetadata | undefined {
    return readBody<FileMetadata>(this.sql, TABLE, id);
  }
}
