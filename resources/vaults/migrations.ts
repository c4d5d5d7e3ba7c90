// The vaults' tables: each vault's body, and its credentials: the public part as the body, the secrets only as
// the sealed columns (vault/crypto.ts).
import type { Migration } from '../shared/migrations.ts';

export const vaultMigrations: Migration[] = [
  {
    // IF NOT EXISTS: a database created before migrations were recorded already has these tables.
    id: 'vaults/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS vaults (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          body TEXT NOT NULL
        );
        -- body is the credential as responses show it (no secret); the secrets are only the sealed columns, which
        -- are NULL once the credential is archived (it can never be used again, so its secret is not kept).
        -- unique_key (env:<secret_name> or mcp:<mcp_server_url>) is unique among a vault's active credentials.
        CREATE TABLE IF NOT EXISTS vault_credentials (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          vault_id TEXT NOT NULL,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          auth_type TEXT NOT NULL,
          unique_key TEXT NOT NULL,
          body TEXT NOT NULL,
          key_id TEXT,
          iv TEXT,
          ciphertext TEXT
        );
        CREATE INDEX IF NOT EXISTS vault_credentials_by_vault ON vault_credentials(vault_id, n);
      `);
    },
  },
];
