// Vaults: named sets of credentials a session may use. Archiving or deleting a vault does the same to every
// credential in it (credentials.ts).
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import type { Vault, VaultCreateParams, VaultUpdateParams } from '../../contract/vault.ts';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { listBodies, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { archiveRow, readBody, serialise, timestamp, touched, writeBody } from '../shared/rows.ts';
import { archiveActiveCredentials } from './credentials.ts';

const TABLE = 'vaults';

const vaultNotFound = (id: string): Result<never> => fail('not_found_error', `vault '${id}' not found`);

export class Vaults extends Queries {
  create(p: VaultCreateParams): Result<Vault> {
    const now = timestamp();
    const vault: Vault = {
      type: 'vault',
      id: newId('vlt'),
      display_name: p.display_name,
      metadata: p.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    this.sql.exec(`INSERT INTO vaults (id, created_at, body) VALUES (?, ?, ?)`, vault.id, now, serialise(vault));
    return ok(vault);
  }

  // get and update read as they do in every resource module, deliberately: the not-found error and the
  // field rules are each resource's own.
  get(id: string): Result<Vault> {
    const vault = this.find(id);
    return vault ? ok(vault) : vaultNotFound(id);
  }

  update(id: string, p: VaultUpdateParams): Result<Vault> {
    const vault = this.find(id);
    if (!vault) return vaultNotFound(id);
    if (vault.archived_at) return fail('invalid_request_error', `vault '${id}' is archived and cannot be updated`);
    const next: Vault = { ...vault };
    // display_name cannot be cleared (a vault always has one): null keeps it, as omitting it does.
    if (p.display_name !== undefined && p.display_name !== null) next.display_name = p.display_name;
    const metadata = applyMetadataPatch(vault.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    const stored = touched(next);
    writeBody(this.sql, TABLE, stored);
    return ok(stored);
  }

  list(args: ListArgs): Result<Page<Vault>> {
    return listBodies<Vault>(this.sql, TABLE, args);
  }

  /** Deletes the vault and every credential in it. Sessions that named it simply no longer get its credentials. */
  delete(id: string): Result<{ id: string; type: 'vault_deleted' }> {
    if (!this.find(id)) return vaultNotFound(id);
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM vault_credentials WHERE vault_id = ?`, id);
      this.sql.exec(`DELETE FROM vaults WHERE id = ?`, id);
    });
    return ok({ id, type: 'vault_deleted' });
  }

  /** Archives the vault and its active credentials (whose secrets are dropped): nothing in it can be used again. */
  archive(id: string): Result<Vault> {
    const vault = this.find(id);
    if (!vault) return vaultNotFound(id);
    if (vault.archived_at) return ok(vault);
    const now = timestamp();
    return ok(
      this.storage.transactionSync(() => {
        const archived = archiveRow(this.sql, TABLE, vault, now);
        archiveActiveCredentials(this.sql, id, now);
        return archived;
      }),
    );
  }

  /** The vault, archived or not; undefined when this workspace has none of that id. */
  find(id: string): Vault | undefined {
    return readBody<Vault>(this.sql, TABLE, id);
  }
}
