// Memory stores: named sets of text memories at paths, and every version of every memory. Each change to a memory
// (create, update, delete; through the API or, later, a session's mount) is one new version naming who made it.
import { createHash } from 'node:crypto';
import { newId } from '../../contract/ids.ts';
import { fail, failWith, ok, type Result } from '../../contract/result.ts';
import { decodeCursor, encodeCursor, type Page } from '../../contract/common.ts';
import {
  FULL_VIEW_PAGE_LIMIT,
  MAX_MEMORY_CONTENT_BYTES,
  memoryPathProblem,
  utf8Length,
  type Actor,
  type DeletedMemory,
  type DeletedMemoryStore,
  type Memory,
  type MemoryCreateParams,
  type MemoryPrefix,
  type MemoryStore,
  type MemoryStoreCreateParams,
  type MemoryStoreUpdateParams,
  type MemoryUpdateParams,
  type MemoryVersion,
  type MemoryVersionOperation,
  type MemoryView,
} from '../../contract/memory-store.ts';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { createdAtFilters, listBodies, newestFirst, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { archiveRow, readBody, serialise, timestamp, touched, writeBody } from '../shared/rows.ts';

const STORES = 'memory_stores';

const storeNotFound = (id: string): Result<never> => fail('not_found_error', `memory store '${id}' not found`);
const memoryNotFound = (storeId: string, id: string): Result<never> => fail('not_found_error', `memory '${id}' not found in memory store '${storeId}'`);
const archived = (id: string, what: string): Result<never> =>
  fail('invalid_request_error', `memory store '${id}' is archived: ${what} (its memories can still be read and deleted)`);

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

interface MemoryRow extends Record<string, SqlStorageValue> {
  id: string;
  store_id: string;
  path: string;
  content: string;
  content_sha256: string;
  content_size_bytes: number;
  version_id: string;
  created_at: string;
  updated_at: string;
}

interface VersionRow extends Record<string, SqlStorageValue> {
  id: string;
  store_id: string;
  memory_id: string;
  operation: string;
  path: string | null;
  content: string | null;
  content_sha256: string | null;
  content_size_bytes: number | null;
  created_at: string;
  created_by: string;
  redacted_at: string | null;
  redacted_by: string | null;
}

export interface MemoryListArgs {
  limit: number;
  page?: string | undefined;
  pathPrefix?: string | undefined;
  depth: number;
  view: MemoryView;
}

export interface MemoryVersionListArgs {
  limit: number;
  page?: string | undefined;
  apiKeyId?: string | undefined;
  sessionId?: string | undefined;
  serviceAccountId?: string | undefined;
  memoryId?: string | undefined;
  operation?: MemoryVersionOperation | undefined;
  createdGte?: string | undefined;
  createdLte?: string | undefined;
  view: MemoryView;
}

/** A memory as a session's sandbox places it under the store's mount path. */
export interface MemoryToPlace {
  path: string;
  content: string;
  memory_version_id: string;
}

/** One change a session's agent made under the mount, in the order it made them. */
export type MemoryWrite = { type: 'write'; path: string; content: string } | { type: 'delete'; path: string };

/**
 * What became of one MemoryWrite: every change is a version; a write that changes nothing makes none. A change to an
 * existing memory names the version it superseded, so the caller sees when it overwrote a write it had not placed.
 */
export type AppliedWrite =
  | { path: string; outcome: 'created'; memory_id: string; memory_version_id: string }
  | { path: string; outcome: 'modified' | 'deleted'; memory_id: string; memory_version_id: string; previous_version_id: string }
  | { path: string; outcome: 'unchanged'; memory_id: string; memory_version_id: string }
  | { path: string; outcome: 'absent' }
  | { path: string; outcome: 'refused'; reason: string };

/** What became of one store's part of a tool call's changes: each write's outcome, or why none was applied. */
export type SavedStoreWrites = { storeId: string; applied: AppliedWrite[] } | { storeId: string; problem: string };

export class MemoryStores extends Queries {
  // ---------- stores ----------

  create(p: MemoryStoreCreateParams): Result<MemoryStore> {
    const now = timestamp();
    const store: MemoryStore = {
      type: 'memory_store',
      id: newId('memstore'),
      name: p.name,
      description: p.description ?? '',
      metadata: p.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    this.sql.exec(`INSERT INTO ${STORES} (id, created_at, body) VALUES (?, ?, ?)`, store.id, now, serialise(store));
    return ok(store);
  }

  // get and update read as they do in every resource module, deliberately: the not-found error and the
  // field rules are each resource's own.
  get(id: string): Result<MemoryStore> {
    const store = this.find(id);
    return store ? ok(store) : storeNotFound(id);
  }

  update(id: string, p: MemoryStoreUpdateParams): Result<MemoryStore> {
    const store = this.find(id);
    if (!store) return storeNotFound(id);
    if (store.archived_at) return archived(id, 'the store cannot be updated');
    const next: MemoryStore = { ...store };
    // A store always has a name: null keeps it, as omitting it does. An empty description clears it.
    if (p.name !== undefined && p.name !== null) next.name = p.name;
    if (p.description !== undefined && p.description !== null) next.description = p.description;
    const metadata = applyMetadataPatch(store.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    const stored = touched(next);
    writeBody(this.sql, STORES, stored);
    return ok(stored);
  }

  list(args: ListArgs): Result<Page<MemoryStore>> {
    return listBodies<MemoryStore>(this.sql, STORES, args);
  }

  /** Deletes the store with all its memories and versions (official: "no longer retrievable"). */
  delete(id: string): Result<DeletedMemoryStore> {
    if (!this.find(id)) return storeNotFound(id);
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM memory_versions WHERE store_id = ?`, id);
      this.sql.exec(`DELETE FROM memories WHERE store_id = ?`, id);
      this.sql.exec(`DELETE FROM ${STORES} WHERE id = ?`, id);
    });
    return ok({ id, type: 'memory_store_deleted' });
  }

  /** Archiving cannot be undone; archiving twice changes nothing. */
  archive(id: string): Result<MemoryStore> {
    const store = this.find(id);
    return store ? ok(archiveRow(this.sql, STORES, store)) : storeNotFound(id);
  }

  /** The store, archived or not; undefined when this workspace has none of that id. */
  find(id: string): MemoryStore | undefined {
    return readBody<MemoryStore>(this.sql, STORES, id);
  }

  // ---------- memories ----------

  createMemory(storeId: string, p: MemoryCreateParams, actor: Actor, view: MemoryView = 'basic'): Result<Memory> {
    const store = this.find(storeId);
    if (!store) return storeNotFound(storeId);
    if (store.archived_at) return archived(storeId, 'memories cannot be created in it');
    const created = this.storage.transactionSync(() => this.insertMemory(storeId, p.path, p.content ?? '', actor));
    return created.ok ? ok(present(created.value, view)) : created;
  }

  getMemory(storeId: string, id: string, view: MemoryView = 'full'): Result<Memory> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const row = this.memoryRow(storeId, id);
    return row ? ok(present(row, view)) : memoryNotFound(storeId, id);
  }

  /**
   * Changes content, path or both, as one `modified` version. A precondition whose hash differs is a
   * memory_precondition_failed_error, unless the memory already is what was asked for; an update that changes
   * nothing makes no version.
   */
  updateMemory(storeId: string, id: string, p: MemoryUpdateParams, actor: Actor, view: MemoryView = 'basic'): Result<Memory> {
    const store = this.find(storeId);
    if (!store) return storeNotFound(storeId);
    const current = this.memoryRow(storeId, id);
    if (!current) return memoryNotFound(storeId, id);
    if (store.archived_at) return archived(storeId, 'its memories cannot be updated');
    const content = p.content ?? current.content;
    const path = p.path ?? current.path;
    const unchanged = content === current.content && path === current.path;
    if (p.precondition && p.precondition.content_sha256 !== current.content_sha256 && !unchanged)
      return fail(
        'memory_precondition_failed_error',
        `precondition.content_sha256: memory '${id}' no longer has that content (retrieve it and retry)`,
      );
    if (unchanged) return ok(present(current, view));
    const updated = this.storage.transactionSync(() => this.modifyMemory(current, path, content, actor));
    return updated.ok ? ok(present(updated.value, view)) : updated;
  }

  /** Lists by path, in byte order, with `depth` rolling deeper memories up into `memory_prefix` items. */
  listMemories(storeId: string, args: MemoryListArgs): Result<Page<Memory | MemoryPrefix>> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const prefix = args.pathPrefix ?? '/';
    const limit = args.view === 'full' ? Math.min(args.limit, FULL_VIEW_PAGE_LIMIT) : args.limit;
    let bound: Bound = { op: '>=', path: prefix };
    if (args.page) {
      const resumed = decodeBound(args.page);
      if (!resumed) return fail('invalid_request_error', 'page: not a cursor returned by this API');
      bound = resumed;
    }
    const data: Array<Memory | MemoryPrefix> = [];
    // Each pass reads the rows after `bound`; a rolled-up directory moves the bound past all of it.
    while (data.length < limit) {
      const want = limit - data.length;
      const rows = this.rowsAfter(storeId, prefix, bound, want);
      if (!rows.length) return ok({ data, next_page: null });
      let rolledUp = false;
      for (const row of rows) {
        const below = row.path.slice(prefix.length).split('/');
        if (args.depth > 0 && below.length > args.depth) {
          const dir = `${prefix}${below.slice(0, args.depth).join('/')}/`;
          data.push({ type: 'memory_prefix', path: dir });
          bound = { op: '>=', path: pastDirectory(dir) };
          rolledUp = true;
          break;
        }
        data.push(present(row, args.view));
        bound = { op: '>', path: row.path };
      }
      if (!rolledUp && rows.length < want) return ok({ data, next_page: null });
    }
    const more = this.rowsAfter(storeId, prefix, bound, 1).length > 0;
    return ok({ data, next_page: more ? encodeCursor({ o: bound.op, p: bound.path }) : null });
  }

  /** Deletes the memory as a `deleted` version; its versions stay. Allowed in an archived store. */
  deleteMemory(storeId: string, id: string, expectedSha256: string | undefined, actor: Actor): Result<DeletedMemory> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const current = this.memoryRow(storeId, id);
    if (!current) return memoryNotFound(storeId, id);
    if (expectedSha256 !== undefined && expectedSha256 !== current.content_sha256)
      return fail('memory_precondition_failed_error', `expected_content_sha256: memory '${id}' no longer has that content; nothing was deleted`);
    this.storage.transactionSync(() => this.removeMemory(current, actor));
    return ok({ id, type: 'memory_deleted' });
  }

  // ---------- versions ----------

  listVersions(storeId: string, args: MemoryVersionListArgs): Result<Page<MemoryVersion>> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const range = createdAtFilters({ createdGte: args.createdGte, createdLte: args.createdLte });
    if (!range.ok) return range;
    const where = ['store_id = ?', ...range.value.where];
    const params: SqlStorageValue[] = [storeId, ...range.value.params];
    const filters: Array<[string, string | undefined]> = [
      ['memory_id', args.memoryId],
      ['operation', args.operation],
      ['api_key_id', args.apiKeyId],
      ['session_id', args.sessionId],
    ];
    for (const [column, value] of filters) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    // This runtime has no service accounts: no version was written by one.
    if (args.serviceAccountId !== undefined) where.push('0');
    const limit = args.view === 'full' ? Math.min(args.limit, FULL_VIEW_PAGE_LIMIT) : args.limit;
    const page = newestFirst<VersionRow>(
      this.sql,
      { from: 'memory_versions', columns: '*', where, params },
      { limit, page: args.page },
      (r) => (args.view === 'full' ? (r.content?.length ?? 0) : 0) + 512,
    );
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => presentVersion(r, args.view)), next_page: page.value.next });
  }

  getVersion(storeId: string, id: string, view: MemoryView = 'full'): Result<MemoryVersion> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const row = this.versionRow(storeId, id);
    return row ? ok(presentVersion(row, view)) : versionNotFound(storeId, id);
  }

  /**
   * Clears a version's content, hash, size and path for good; who wrote it stays. The version a live memory
   * currently holds is refused (409): its content would stay readable on the memory, so the memory must be updated
   * or deleted first. Redacting twice changes nothing.
   */
  redactVersion(storeId: string, id: string, actor: Actor): Result<MemoryVersion> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const row = this.versionRow(storeId, id);
    if (!row) return versionNotFound(storeId, id);
    if (row.redacted_at) return ok(presentVersion(row, 'full'));
    const holder = this.sql.exec<{ id: string }>(`SELECT id FROM memories WHERE version_id = ?`, id).toArray()[0];
    if (holder)
      return fail(
        'conflict_error',
        `memory version '${id}' is the current version of memory '${holder.id}'; update or delete the memory first, then redact this version`,
      );
    const now = timestamp();
    this.sql.exec(
      `UPDATE memory_versions SET path = NULL, content = NULL, content_sha256 = NULL, content_size_bytes = NULL, redacted_at = ?, redacted_by = ? WHERE id = ?`,
      now,
      JSON.stringify(actor),
      id,
    );
    return ok(presentVersion(this.versionRow(storeId, id)!, 'full'));
  }

  // ---------- for a session's mount (sandbox/memory-mount.ts; the brain saves through applyCallWrites) ----------

  /** The store's memories under `prefix` (a `path_prefix`: `/` or ending in `/`), by path, with their content. */
  memoriesToPlace(storeId: string, prefix = '/'): Result<MemoryToPlace[]> {
    if (!this.find(storeId)) return storeNotFound(storeId);
    const rows = this.sql
      .exec<MemoryRow>(`SELECT * FROM memories WHERE store_id = ? AND path >= ? AND path < ? ORDER BY path`, storeId, prefix, pastDirectory(prefix))
      .toArray();
    return ok(rows.map((r) => ({ path: r.path, content: r.content, memory_version_id: r.version_id })));
  }

  /**
   * Applies a session's writes and deletes in order, each as its own version attributed to the session: a later
   * write to a path simply supersedes an earlier one, whose content stays in its version, so no write is lost
   * unseen. A write that is not a valid memory (path, size, a path overlapping another memory's) is refused alone;
   * the others apply. That the session may write here (attached read_write) is the caller's to check.
   */
  applySessionWrites(storeId: string, sessionId: string, writes: readonly MemoryWrite[]): Result<AppliedWrite[]> {
    const store = this.find(storeId);
    if (!store) return storeNotFound(storeId);
    if (store.archived_at) return archived(storeId, 'its memories cannot be changed');
    const actor: Actor = { type: 'session_actor', session_id: sessionId };
    return ok(this.storage.transactionSync(() => writes.map((w) => this.applyWrite(storeId, w, actor))));
  }

  /**
   * Saves what one tool call of a session changed under its mounts, at most once per (session, call): the first time
   * each store's writes are applied (as applySessionWrites does) and the outcome is kept in the same transaction; a
   * repeat (a brain that crashed after saving and retried) applies nothing and answers the kept outcome. A store gone
   * or archived since is reported, its writes dropped. Read-write access is the caller's to check.
   */
  applyCallWrites(sessionId: string, callId: string, changes: ReadonlyArray<{ storeId: string; writes: readonly MemoryWrite[] }>): SavedStoreWrites[] {
    return this.storage.transactionSync(() => {
      const kept = this.sql.exec<{ result: string }>(`SELECT result FROM memory_session_calls WHERE session_id = ? AND call_id = ?`, sessionId, callId).toArray()[0];
      if (kept) return JSON.parse(kept.result) as SavedStoreWrites[];
      const actor: Actor = { type: 'session_actor', session_id: sessionId };
      const result = changes.map((c): SavedStoreWrites => {
        const store = this.find(c.storeId);
        if (!store) return { storeId: c.storeId, problem: 'the memory store no longer exists' };
        if (store.archived_at) return { storeId: c.storeId, problem: 'the memory store is archived' };
        return { storeId: c.storeId, applied: c.writes.map((w) => this.applyWrite(c.storeId, w, actor)) };
      });
      this.sql.exec(`INSERT INTO memory_session_calls (session_id, call_id, result) VALUES (?, ?, ?)`, sessionId, callId, JSON.stringify(result));
      return result;
    });
  }

  /** Forgets which calls of a session were saved (the session is being deleted; the caller's transaction). */
  forgetSession(sessionId: string): void {
    this.sql.exec(`DELETE FROM memory_session_calls WHERE session_id = ?`, sessionId);
  }

  private applyWrite(storeId: string, w: MemoryWrite, actor: Actor): AppliedWrite {
    const problem = memoryPathProblem(w.path);
    if (problem) return { path: w.path, outcome: 'refused', reason: `path: ${problem}` };
    const current = this.sql.exec<MemoryRow>(`SELECT * FROM memories WHERE store_id = ? AND path = ?`, storeId, w.path).toArray()[0];
    if (w.type === 'delete') {
      if (!current) return { path: w.path, outcome: 'absent' };
      const versionId = this.removeMemory(current, actor);
      return { path: w.path, outcome: 'deleted', memory_id: current.id, memory_version_id: versionId, previous_version_id: current.version_id };
    }
    const bytes = utf8Length(w.content);
    if (bytes > MAX_MEMORY_CONTENT_BYTES) return { path: w.path, outcome: 'refused', reason: `content: at most ${MAX_MEMORY_CONTENT_BYTES} bytes, got ${bytes}` };
    if (current) {
      if (current.content === w.content) return { path: w.path, outcome: 'unchanged', memory_id: current.id, memory_version_id: current.version_id };
      const next = this.modifyMemory(current, w.path, w.content, actor);
      return next.ok
        ? { path: w.path, outcome: 'modified', memory_id: current.id, memory_version_id: next.value.version_id, previous_version_id: current.version_id }
        : refused(w.path, next);
    }
    const created = this.insertMemory(storeId, w.path, w.content, actor);
    return created.ok ? { path: w.path, outcome: 'created', memory_id: created.value.id, memory_version_id: created.value.version_id } : refused(w.path, created);
  }

  // ---------- rows ----------

  /** Inserts a memory and its `created` version; the caller holds the transaction. */
  private insertMemory(storeId: string, path: string, content: string, actor: Actor): Result<MemoryRow> {
    const conflict = this.pathConflict(storeId, path, null);
    if (conflict) return conflict;
    const now = timestamp();
    const row: MemoryRow = {
      id: newId('mem'),
      store_id: storeId,
      path,
      content,
      content_sha256: sha256Hex(content),
      content_size_bytes: utf8Length(content),
      version_id: newId('memver'),
      created_at: now,
      updated_at: now,
    };
    this.sql.exec(
      `INSERT INTO memories (id, store_id, path, content, content_sha256, content_size_bytes, version_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id,
      storeId,
      path,
      content,
      row.content_sha256,
      row.content_size_bytes,
      row.version_id,
      now,
      now,
    );
    this.insertVersion(row, 'created', actor);
    return ok(row);
  }

  /** Rewrites a memory and adds its `modified` version; the caller holds the transaction. */
  private modifyMemory(current: MemoryRow, path: string, content: string, actor: Actor): Result<MemoryRow> {
    if (path !== current.path) {
      const conflict = this.pathConflict(current.store_id, path, current.id);
      if (conflict) return conflict;
    }
    const next: MemoryRow = {
      ...current,
      path,
      content,
      content_sha256: sha256Hex(content),
      content_size_bytes: utf8Length(content),
      version_id: newId('memver'),
      updated_at: timestamp(),
    };
    this.sql.exec(
      `UPDATE memories SET path = ?, content = ?, content_sha256 = ?, content_size_bytes = ?, version_id = ?, updated_at = ? WHERE id = ?`,
      next.path,
      next.content,
      next.content_sha256,
      next.content_size_bytes,
      next.version_id,
      next.updated_at,
      next.id,
    );
    this.insertVersion(next, 'modified', actor);
    return ok(next);
  }

  /** Deletes a memory and adds its `deleted` version (its id returned); the caller holds the transaction. */
  private removeMemory(current: MemoryRow, actor: Actor): string {
    this.sql.exec(`DELETE FROM memories WHERE id = ?`, current.id);
    return this.insertVersion({ ...current, version_id: newId('memver'), updated_at: timestamp() }, 'deleted', actor);
  }

  private insertVersion(row: MemoryRow, operation: MemoryVersionOperation, actor: Actor): string {
    const deleted = operation === 'deleted';
    this.sql.exec(
      `INSERT INTO memory_versions (id, store_id, memory_id, operation, path, content, content_sha256, content_size_bytes, created_at, created_by, api_key_id, session_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.version_id,
      row.store_id,
      row.id,
      operation,
      row.path,
      deleted ? null : row.content,
      deleted ? null : row.content_sha256,
      deleted ? null : row.content_size_bytes,
      row.updated_at,
      JSON.stringify(actor),
      actor.type === 'api_actor' ? actor.api_key_id : null,
      actor.type === 'session_actor' ? actor.session_id : null,
    );
    return row.version_id;
  }

  /**
   * The memory whose path blocks `path` (the same path, an ancestor such as `/notes` of `/notes/todo.md`, or a
   * descendant) as the official memory_path_conflict_error; null when the path is free. `self` is the memory being
   * renamed.
   */
  private pathConflict(storeId: string, path: string, self: string | null): Result<never> | null {
    const segments = path.slice(1).split('/');
    const ancestors = segments.slice(0, -1).map((_s, i) => `/${segments.slice(0, i + 1).join('/')}`);
    const dir = `${path}/`;
    const hit = this.sql
      .exec<{ id: string; path: string }>(
        `SELECT id, path FROM memories WHERE store_id = ? AND id != ? AND (path = ? ${ancestors.map(() => 'OR path = ?').join(' ')} OR (path >= ? AND path < ?)) LIMIT 1`,
        storeId,
        self ?? '',
        path,
        ...ancestors,
        dir,
        pastDirectory(dir),
      )
      .toArray()[0];
    if (!hit) return null;
    const how = hit.path === path ? 'is already the path of' : hit.path.length < path.length ? 'is inside the path of' : 'would contain';
    return failWith('memory_path_conflict_error', `path: '${path}' ${how} memory '${hit.id}' ('${hit.path}')`, {
      conflicting_path: hit.path,
      conflicting_memory_id: hit.id,
    });
  }

  private memoryRow(storeId: string, id: string): MemoryRow | undefined {
    return this.sql.exec<MemoryRow>(`SELECT * FROM memories WHERE id = ? AND store_id = ?`, id, storeId).toArray()[0];
  }

  private versionRow(storeId: string, id: string): VersionRow | undefined {
    return this.sql.exec<VersionRow>(`SELECT * FROM memory_versions WHERE id = ? AND store_id = ?`, id, storeId).toArray()[0];
  }

  /** Up to `n` memories under `prefix` after `bound`, by path. */
  private rowsAfter(storeId: string, prefix: string, bound: Bound, n: number): MemoryRow[] {
    return this.sql
      .exec<MemoryRow>(
        `SELECT * FROM memories WHERE store_id = ? AND path >= ? AND path < ? AND path ${bound.op} ? ORDER BY path LIMIT ?`,
        storeId,
        prefix,
        pastDirectory(prefix),
        bound.path,
        n,
      )
      .toArray();
  }
}

const versionNotFound = (storeId: string, id: string): Result<never> =>
  fail('not_found_error', `memory version '${id}' not found in memory store '${storeId}'`);

function refused(path: string, r: Result<unknown>): AppliedWrite {
  return { path, outcome: 'refused', reason: r.ok ? '' : r.error.message };
}

/** Where a list resumes: after a memory's path, or at the first path past a rolled-up directory. */
interface Bound {
  op: '>' | '>=';
  path: string;
}

function decodeBound(cursor: string): Bound | null {
  const c = decodeCursor(cursor);
  return c && (c.o === '>' || c.o === '>=') && typeof c.p === 'string' ? { op: c.o, path: c.p } : null;
}

/**
 * The least string greater than every path inside directory `dir` (which ends in `/`): its last `/` becomes `0`, the
 * next character. Every path that starts with `dir` sorts between the two, in SQLite's byte order as in UTF-16.
 */
function pastDirectory(dir: string): string {
  return `${dir.slice(0, -1)}0`;
}

function present(row: MemoryRow, view: MemoryView): Memory {
  return {
    type: 'memory',
    id: row.id,
    memory_store_id: row.store_id,
    path: row.path,
    content: view === 'full' ? row.content : null,
    content_sha256: row.content_sha256,
    content_size_bytes: row.content_size_bytes,
    memory_version_id: row.version_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function presentVersion(row: VersionRow, view: MemoryView): MemoryVersion {
  return {
    type: 'memory_version',
    id: row.id,
    memory_id: row.memory_id,
    memory_store_id: row.store_id,
    operation: row.operation as MemoryVersionOperation,
    path: row.path,
    content: view === 'full' ? row.content : null,
    content_sha256: row.content_sha256,
    content_size_bytes: row.content_size_bytes,
    created_at: row.created_at,
    created_by: JSON.parse(row.created_by) as Actor,
    redacted_at: row.redacted_at,
    redacted_by: row.redacted_by ? (JSON.parse(row.redacted_by) as Actor) : null,
  };
}
