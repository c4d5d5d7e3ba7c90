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

/**
 * Applies `change` to the body of every row of `table`, whose rows `keys` identify: for migrations that complete
 * stored resources (a field added with its default), so reads never need a fallback.
 */
export function rewriteBodies<T>(sql: SqlStorage, table: string, keys: string[], change: (body: T) => T): void {
  const match = keys.map((c) => `${c} = ?`).join(' AND ');
  // The keys first: rows are rewritten one by one, never while a cursor over the table is open.
  const rows = sql.exec<Record<string, SqlStorageValue>>(`SELECT ${keys.join(', ')} FROM ${table}`).toArray();
  for (const row of rows) {
    const values = keys.map((c) => row[c]!);
    const current = sql.exec<{ body: string }>(`SELECT body FROM ${table} WHERE ${match}`, ...values).one().body;
    const next = serialise(change(deserialise<T>(current)));
    if (next !== current) sql.exec(`UPDATE ${table} SET body = ? WHERE ${match}`, next, ...values);
  }
}
