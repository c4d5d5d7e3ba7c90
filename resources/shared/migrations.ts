// Schema changes for a Durable Object's SQLite database, as an ordered list of numbered migrations, each applied
// once and recorded in the database itself (`_migrations`). A resource module owns its migrations
// (`resources/<name>/migrations.ts`); the Durable Object that hosts it runs them, in the order it lists them, when
// it starts.
// A migration never changes once released: a later change is a new migration with the next number.

export interface Migration {
  /** `<owner>/<number>-<what>`, e.g. `agents/1-tables`. Recorded once applied; never renamed. */
  id: string;
  up(sql: SqlStorage): void;
}

/**
 * Applies, in order, every migration the database has not recorded, each in its own transaction with its record.
 * The first migration of each owner creates its tables with `IF NOT EXISTS`, so a database made before migrations
 * were recorded adopts them unchanged.
 */
export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS _migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`);
  const applied = new Set(sql.exec<{ id: string }>(`SELECT id FROM _migrations`).toArray().map((r) => r.id));
  const seen = new Set<string>();
  for (const m of migrations) {
    if (seen.has(m.id)) throw new Error(`migration '${m.id}' is listed twice`);
    seen.add(m.id);
    if (applied.has(m.id)) continue;
    storage.transactionSync(() => {
      m.up(sql);
      sql.exec(`INSERT INTO _migrations (id, applied_at) VALUES (?, ?)`, m.id, new Date().toISOString());
    });
  }
}
