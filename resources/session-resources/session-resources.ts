// A session's resources: the repositories, files and memory stores mounted into its sandbox. The row's body is what responses
// show; a repository's authorization_token is stored only sealed under the vault's master key and bound to this
// workspace, session and resource (vault/crypto.ts, as credentials are), and goes when the resource does.
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import type { Session } from '../../contract/session.ts';
import {
  defaultMountPath,
  type Checkout,
  MAX_SESSION_RESOURCES,
  mountPathClash,
  type FileResource,
  type MemoryStoreResource,
  type ResourceAddParams,
  type ResourceUpdateParams,
  type SessionResource,
  type SessionResourceParams,
} from '../../contract/session-resource.ts';
import { openSecret, sealSecret, secretAad, type SealedSecret } from '../../vault/crypto.ts';
import { listBodies, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { deserialise, serialise, timestamp } from '../shared/rows.ts';
import { memoryMountPath, type MemoryStore } from '../../contract/memory-store.ts';
import type { Files } from '../files/files.ts';
import type { MemoryStores } from '../memory-stores/memory-stores.ts';
import type { VaultKeys } from '../vaults/keys.ts';

const TABLE = 'session_resources';

/** A new session's resources, checked and their tokens sealed, ready to be stored with the session (Sessions.create). */
export interface PreparedResources {
  sessionId: string;
  rows: Array<{ resource: SessionResource; sealed: SealedSecret | null }>;
}

/** A repository to clone into a session's sandbox, with its token opened (for the hands only). */
export interface FileToPlace {
  resourceId: string;
  fileId: string;
  mountPath: string;
}

/** A memory store to mount in a session's sandbox, as it was attached. */
export interface MemoryStoreToMount {
  resourceId: string;
  memoryStoreId: string;
  mountPath: string;
  access: 'read_write' | 'read_only';
}

export interface RepositoryToClone {
  resourceId: string;
  url: string;
  checkout: Checkout | null;
  mountPath: string;
  token: string | null;
}

export class SessionResources extends Queries {
  private readonly keys: VaultKeys;
  private readonly findSession: (id: string) => Session | undefined;
  private readonly files: Pick<Files, 'find'>;
  private readonly memoryStores: Pick<MemoryStores, 'find'>;

  /**
   * `keys`: what tokens are sealed with; `findSession`: this workspace's session of an id; `files` and
   * `memoryStores`: this workspace's (tenancy: another workspace's session, file or store is not found).
   */
  constructor(
    storage: DurableObjectStorage,
    keys: VaultKeys,
    findSession: (id: string) => Session | undefined,
    files: Pick<Files, 'find'>,
    memoryStores: Pick<MemoryStores, 'find'> = { find: () => undefined },
  ) {
    super(storage);
    this.keys = keys;
    this.findSession = findSession;
    this.files = files;
    this.memoryStores = memoryStores;
  }

  /**
   * A new session's id and its resources as they will be stored: default mount paths filled in, no two resources
   * at one place, tokens sealed. Nothing is written; Sessions.create stores them with the session (insert).
   */
  async prepare(params: SessionResourceParams[]): Promise<Result<PreparedResources>> {
    const sessionId = newId('sesn');
    const stores: Array<MemoryStore | undefined> = [];
    for (const [i, p] of params.entries()) {
      const missing = p.type === 'file' ? this.fileProblem(p.file_id, `resources[${i}].file_id`) : null;
      if (missing) return missing;
      if (p.type !== 'memory_store') continue;
      const store = this.attachableStore(p.memory_store_id, `resources[${i}].memory_store_id`);
      if (!store.ok) return store;
      stores[i] = store.value;
    }
    const mounts = params.map((p, i) => (p.type === 'memory_store' ? memoryMountPath(stores[i]!.name) : (p.mount_path ?? defaultMountPath(p))));
    const clash = mountPathClash(mounts, (i) => `resources[${i}]`);
    if (clash) return fail('invalid_request_error', clash);
    const withToken = params.some((p) => p.type === 'github_repository' && p.authorization_token !== undefined);
    const keys = withToken ? await this.keys.forRequest() : null;
    if (keys && !keys.ok) return keys;
    const now = timestamp();
    const rows: PreparedResources['rows'] = [];
    for (const [i, p] of params.entries()) {
      const id = newId('sesrsc');
      const resource: SessionResource =
        p.type === 'file'
          ? { type: 'file', id, file_id: p.file_id, mount_path: mounts[i]!, created_at: now, updated_at: now }
          : p.type === 'memory_store'
            ? {
                type: 'memory_store',
                id,
                memory_store_id: p.memory_store_id,
                access: p.access ?? 'read_write',
                name: stores[i]!.name,
                description: stores[i]!.description,
                instructions: p.instructions ?? null,
                mount_path: mounts[i]!,
                created_at: now,
                updated_at: now,
              }
            : { type: 'github_repository', id, url: p.url, checkout: p.checkout ?? null, mount_path: mounts[i]!, created_at: now, updated_at: now };
      const token = p.type === 'github_repository' ? p.authorization_token : undefined;
      const sealed = token !== undefined && keys?.ok ? await sealSecret(keys.value, this.aad(sessionId, id), token) : null;
      rows.push({ resource, sealed });
    }
    return ok({ sessionId, rows });
  }

  /** Stores prepared resources; the caller runs this in the transaction that stores their session. */
  insert(prepared: PreparedResources): void {
    for (const { resource, sealed } of prepared.rows) this.insertRow(prepared.sessionId, resource, sealed);
  }

  /** Adds a file to an existing session (the only kind ResourceAddParams takes). */
  add(sessionId: string, p: ResourceAddParams): Result<FileResource> {
    const session = this.activeSession(sessionId);
    if (!session.ok) return session;
    const missing = this.fileProblem(p.file_id, 'file_id');
    if (missing) return missing;
    // Checked and stored the way a vault's credential is (credentials.ts), deliberately: each states its own rules.
    const current = this.all(sessionId);
    if (current.length >= MAX_SESSION_RESOURCES)
      return fail('invalid_request_error', `session '${sessionId}' already has ${MAX_SESSION_RESOURCES} resources, the most a session may have`);
    const mountPath = p.mount_path ?? defaultMountPath(p);
    const clash = mountPathClash([...current.map((r) => r.mount_path), mountPath], (i) => (i === current.length ? 'request' : `resource '${current[i]!.id}'`));
    if (clash) return fail('invalid_request_error', clash.replace(/^request\./, ''));
    const now = timestamp();
    const resource: FileResource = { type: 'file', id: newId('sesrsc'), file_id: p.file_id, mount_path: mountPath, created_at: now, updated_at: now };
    this.insertRow(sessionId, resource, null);
    return ok(resource);
  }

  get(sessionId: string, id: string): Result<SessionResource> {
    const row = this.row(sessionId, id);
    return row.ok ? ok(row.value.resource) : row;
  }

  /** Rotates a repository's token: sealed anew under the current master key. Other kinds have no token to rotate. */
  async update(sessionId: string, id: string, p: ResourceUpdateParams): Promise<Result<SessionResource>> {
    const found = this.row(sessionId, id);
    if (!found.ok) return found;
    const { resource } = found.value;
    if (resource.type !== 'github_repository')
      return fail('invalid_request_error', `authorization_token: resource '${id}' is a ${resource.type} resource; only github_repository resources take a token`);
    const keys = await this.keys.forRequest();
    if (!keys.ok) return keys;
    const sealed = await sealSecret(keys.value, this.aad(sessionId, id), p.authorization_token);
    // Deleted meanwhile (the seal awaited): nothing to update.
    const still = this.row(sessionId, id);
    if (!still.ok) return still;
    const next: SessionResource = { ...still.value.resource, updated_at: timestamp() };
    this.sql.exec(`UPDATE ${TABLE} SET body = ?, key_id = ?, iv = ?, ciphertext = ? WHERE id = ?`, serialise(next), sealed.keyId, sealed.iv, sealed.ciphertext, id);
    return ok(next);
  }

  list(sessionId: string, args: ListArgs): Result<Page<SessionResource>> {
    if (!this.findSession(sessionId)) return sessionNotFound(sessionId);
    return listBodies<SessionResource>(this.sql, TABLE, args, { where: ['session_id = ?'], params: [sessionId] });
  }

  delete(sessionId: string, id: string): Result<{ id: string; type: 'session_resource_deleted' }> {
    const found = this.row(sessionId, id);
    if (!found.ok) return found;
    this.sql.exec(`DELETE FROM ${TABLE} WHERE id = ?`, id);
    return ok({ id, type: 'session_resource_deleted' });
  }

  /** Every resource of a session, in the order they were given: what the session itself shows. */
  all(sessionId: string): SessionResource[] {
    return this.sql
      .exec<{ body: string }>(`SELECT body FROM ${TABLE} WHERE session_id = ? ORDER BY n`, sessionId)
      .toArray()
      .map((r) => deserialise<SessionResource>(r.body));
  }

  /** Drops a session's resources and their tokens (the session is being deleted; the caller's transaction). */
  deleteAll(sessionId: string): void {
    this.sql.exec(`DELETE FROM ${TABLE} WHERE session_id = ?`, sessionId);
  }

  /** The session's `file` resources in order: what the hands place in its sandbox. */
  filesToPlace(sessionId: string): FileToPlace[] {
    return this.all(sessionId).flatMap((r) => (r.type === 'file' ? [{ resourceId: r.id, fileId: r.file_id, mountPath: r.mount_path }] : []));
  }

  /** The session's memory stores in order: what the hands will mount (not built yet; docs/memory-stores.md). */
  memoryStoresToMount(sessionId: string): MemoryStoreToMount[] {
    return this.all(sessionId).flatMap((r: SessionResource) =>
      r.type === 'memory_store' ? [{ resourceId: r.id, memoryStoreId: r.memory_store_id, mountPath: r.mount_path, access: r.access }] : [],
    );
  }

  /**
   * The session's repositories in order, their tokens opened: for the hands to clone, never for a response.
   * Throws VaultCryptoError when a token cannot be opened (the master key unset, or rotated out).
   */
  async repositoriesToClone(sessionId: string): Promise<RepositoryToClone[]> {
    const rows = this.sql
      .exec<{ id: string; body: string; key_id: string | null; iv: string | null; ciphertext: string | null }>(
        `SELECT id, body, key_id, iv, ciphertext FROM ${TABLE} WHERE session_id = ? ORDER BY n`,
        sessionId,
      )
      .toArray();
    const out: RepositoryToClone[] = [];
    for (const row of rows) {
      const resource = deserialise<SessionResource>(row.body);
      if (resource.type !== 'github_repository') continue;
      const token =
        row.key_id && row.iv && row.ciphertext
          ? await openSecret(await this.keys.load(), this.aad(sessionId, row.id), { keyId: row.key_id, iv: row.iv, ciphertext: row.ciphertext })
          : null;
      out.push({ resourceId: row.id, url: resource.url, checkout: resource.checkout, mountPath: resource.mount_path, token });
    }
    return out;
  }

  private insertRow(sessionId: string, resource: SessionResource, sealed: SealedSecret | null): void {
    this.sql.exec(
      `INSERT INTO ${TABLE} (id, session_id, created_at, body, key_id, iv, ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      resource.id,
      sessionId,
      resource.created_at,
      serialise(resource),
      sealed?.keyId ?? null,
      sealed?.iv ?? null,
      sealed?.ciphertext ?? null,
    );
  }

  /** A resource of this session: one of another session (or workspace) is not found here. */
  private row(sessionId: string, id: string): Result<{ resource: SessionResource }> {
    if (!this.findSession(sessionId)) return sessionNotFound(sessionId);
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM ${TABLE} WHERE id = ? AND session_id = ?`, id, sessionId).toArray()[0];
    if (!row) return fail('not_found_error', `resource '${id}' not found in session '${sessionId}'`);
    return ok({ resource: deserialise<SessionResource>(row.body) });
  }

  private activeSession(sessionId: string): Result<Session> {
    const session = this.findSession(sessionId);
    if (!session) return sessionNotFound(sessionId);
    if (session.archived_at) return fail('invalid_request_error', `session '${sessionId}' is archived; an archived session gets no new resources`);
    return ok(session);
  }

  /** A file resource names a file of this workspace (mounting does not need it to be downloadable: uploads are not). */
  private fileProblem(fileId: string, field: string): Result<never> | null {
    return this.files.find(fileId) ? null : fail('not_found_error', `${field}: file '${fileId}' not found`, 'file_not_found');
  }

  /** A memory store of this workspace that may be attached to a new session: one archived may not (official). */
  private attachableStore(id: string, field: string): Result<MemoryStore> {
    const store = this.memoryStores.find(id);
    if (!store) return fail('not_found_error', `${field}: memory store '${id}' not found`);
    if (store.archived_at) return fail('invalid_request_error', `${field}: memory store '${id}' is archived; an archived store cannot be attached to a session`);
    return ok(store);
  }

  /** Binds a token to its workspace, session and resource: a ciphertext copied elsewhere fails to open. */
  private aad(sessionId: string, id: string): string {
    return secretAad(this.keys.workspaceId(), sessionId, id);
  }
}

const sessionNotFound = (id: string): Result<never> => fail('not_found_error', `session '${id}' not found`);
