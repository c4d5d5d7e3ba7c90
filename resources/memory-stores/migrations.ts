// The memory stores' tables: each store as its body; each live memory as columns (its path unique in its store, so
// SQLite keeps two writers from taking one path); and every version ever written, which outlives its memory.
import type { Migration } from '../shared/migrations.ts';

export const memoryStoreMigrations: Migration[] = [
  {
    id: 'memory-stores/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS memory_stores (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          archived_at TEXT,
          body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS memories (
          id TEXT PRIMARY KEY,
          store_id TEXT NOT NULL,
          path TEXT NOT NULL,
          content TEXT NOT NULL,
          content_sha256 TEXT NOT NULL,
          content_size_bytes INTEGER NOT NULL,
          version_id TEXT NOT NULL,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          UNIQUE (store_id, path)
        );
        -- path, content, content_sha256 and content_size_bytes are NULL once redacted (and the content ones on a
        -- deleted version); created_by and redacted_by are the actors as JSON.
        CREATE TABLE IF NOT EXISTS memory_versions (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          store_id TEXT NOT NULL,
          memory_id TEXT NOT NULL,
          operation TEXT NOT NULL,
          path TEXT,
          content TEXT,
          content_sha256 TEXT,
          content_size_bytes INTEGER,
          created_at TEXT NOT NULL,
          created_by TEXT NOT NULL,
          api_key_id TEXT,
          session_id TEXT,
          redacted_at TEXT,
          redacted_by TEXT
        );
        CREATE INDEX IF NOT EXISTS memory_versions_by_store ON memory_versions (store_id, n);
        CREATE INDEX IF NOT EXISTS memory_versions_by_memory ON memory_versions (memory_id, n);
      `);
    },
  },
  {
    // The tool calls whose changes under a session's mounts were saved, with what became of them: a call is saved
    // once, however often a crashed brain retries it, and a retry reads the same outcome back.
    id: 'memory-stores/2-session-calls',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS memory_session_calls (
          session_id TEXT NOT NULL,
          call_id TEXT NOT NULL,
          result TEXT NOT NULL,
          PRIMARY KEY (session_id, call_id)
        );
      `);
    },
  },
];
