// Rows that hold a resource as its JSON `body` (the response shape, minus secrets): read, rewrite, stamp and
// archive them the same way for every resource. `table` is always a module's own constant, never request input.

/** The bookkeeping every stored resource carries. */
export interface Stored {
  id: string;
  updated_at: string;
  archived_at: string | null;
}

export function timestamp(): string {
  return new Date().toISOString();
}

export function serialise(value: unknown): string {
  return JSON.stringify(value);
}

export function deserialise<T>(body: string): T {
  return JSON.parse(body) as T;
}

/** The resource stored in `table` under `id`, or undefined. */
export function readBody<T>(sql: SqlStorage, table: string, id: string): T | undefined {
  const row = sql.exec<{ body: string }>(`SELECT body FROM ${table} WHERE id = ?`, id).toArray()[0];
  return row ? deserialise<T>(row.body) : undefined;
}

/** Replaces the stored body of `value.id`. */
export function writeBody(sql: SqlStorage, table: string, value: { id: string }): void {
  sql.exec(`UPDATE ${table} SET body = ? WHERE id = ?`, serialise(value), value.id);
}

/** `next` as an update stores it: updated now. */
export function touched<T extends { updated_at: string }>(next: T): T {
  return { ...next, updated_at: timestamp() };
}

/**
 * Archives the row: `archived_at` and `updated_at` become `at`, in the column (lists filter on it) and the body.
 * An archived row is returned as it is: archiving twice changes nothing.
 */
export function archiveRow<T extends Stored>(sql: SqlStorage, table: string, current: T, at = timestamp()): T {
  if (current.archived_at) return current;
  const next = { ...current, archived_at: at, updated_at: at };
  sql.exec(`UPDATE ${table} SET archived_at = ?, body = ? WHERE id = ?`, at, serialise(next), current.id);
  return next;
}

/** Applies `change` to the body of every row of `table`: for migrations that add a field to stored resources. */
export function rewriteBodies<T>(sql: SqlStorage, table: string, key: string, change: (body: T) => T): void {
  // The keys first: rows are rewritten one by one, never while a cursor over the table is open.
  const keys = sql.exec<Record<string, SqlStorageValue>>(`SELECT ${key} FROM ${table}`).toArray();
  const columns = key.split(',').map((c) => c.trim());
  const match = columns.map((c) => `${c} = ?`).join(' AND ');
  for (const row of keys) {
    const values = columns.map((c) => row[c] ?? null);
    const current = sql.exec<{ body: string }>(`SELECT body FROM ${table} WHERE ${match}`, ...values).one().body;
    const next = serialise(change(deserialise<T>(current)));
    if (next !== current) sql.exec(`UPDATE ${table} SET body = ? WHERE ${match}`, next, ...values);
  }
}
