// Cursor paging over a resource's rows, written once for every list: newest first by insertion number (or by
// version), the created_at filters, the budget that keeps a page inside one RPC reply, and the sessions'
// two-way cursor. Cursors are opaque to clients: base64url of the position of the page's last (or first) row.
import { decodeCursor, encodeCursor, type Page } from '../../contract/common.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import { deserialise } from './rows.ts';

export interface ListArgs {
  limit: number;
  page?: string | undefined;
  includeArchived?: boolean | undefined;
  createdGte?: string | undefined;
  createdLte?: string | undefined;
  createdGt?: string | undefined;
  createdLt?: string | undefined;
}

/** Characters of JSON per list page; a V8 string takes at most two bytes per character, so well under 32 MiB. */
export const PAGE_CHARS = 8_000_000;

const NOT_A_CURSOR = 'page: not a cursor returned by this API';

/** A list query's rows: `FROM from WHERE where…`, `columns` selected besides the position column. */
export interface RowQuery {
  from: string;
  columns: string;
  where?: string[];
  params?: SqlStorageValue[];
}

/**
 * The longest prefix of a page whose bodies stay within PAGE_CHARS (always at least one row): a page travels back
 * as one RPC reply, limited to 32 MiB, and stored objects may be up to a row each.
 */
export function withinPageBudget<T>(rows: T[], size: (row: T) => number): T[] {
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += size(rows[i]!);
    if (i > 0 && total > PAGE_CHARS) return rows.slice(0, i);
  }
  return rows;
}

/** The WHERE terms of a list's common filters: archived rows (left out unless asked for) and created_at bounds. */
export function listFilters(args: ListArgs): Result<{ where: string[]; params: string[] }> {
  const range = createdAtFilters(args);
  if (!range.ok) return range;
  return ok({ where: [...(args.includeArchived ? [] : ['archived_at IS NULL']), ...range.value.where], params: range.value.params });
}

export function createdAtFilters(a: Pick<ListArgs, 'createdGte' | 'createdLte' | 'createdGt' | 'createdLt'>): Result<{ where: string[]; params: string[] }> {
  const where: string[] = [];
  const params: string[] = [];
  const pairs: Array<[string | undefined, string, string]> = [
    [a.createdGte, '>=', 'created_at[gte]'],
    [a.createdLte, '<=', 'created_at[lte]'],
    [a.createdGt, '>', 'created_at[gt]'],
    [a.createdLt, '<', 'created_at[lt]'],
  ];
  for (const [value, op, name] of pairs) {
    if (value === undefined) continue;
    const t = Date.parse(value);
    if (Number.isNaN(t)) return fail('invalid_request_error', `${name}: expected an RFC 3339 timestamp`);
    where.push(`created_at ${op} ?`);
    // Stored timestamps are ISO strings in UTC, so the bound is one too: any RFC 3339 offset compares right.
    params.push(new Date(t).toISOString());
  }
  return ok({ where, params });
}

/**
 * One page, newest first: by insertion number `n` (the cursor `{n}`), or by `version` (the cursor `{v}`, for a
 * resource's versions). `sizeOf` gives a row's share of the page budget; a page cut short by it still has a
 * next page.
 */
export function newestFirst<R extends Record<string, SqlStorageValue>>(
  sql: SqlStorage,
  query: RowQuery,
  page: { limit: number; page?: string | undefined },
  sizeOf: (row: R) => number,
  position: 'n' | 'version' = 'n',
): Result<{ rows: Array<R & { position: number }>; next: string | null }> {
  const field = position === 'n' ? 'n' : 'v';
  const where = [...(query.where ?? [])];
  const params = [...(query.params ?? [])];
  if (page.page) {
    const at = decodeCursor(page.page)?.[field];
    if (typeof at !== 'number') return fail('invalid_request_error', NOT_A_CURSOR);
    where.push(`${position} < ?`);
    params.push(at);
  }
  const rows = sql
    .exec<R & { position: number }>(
      `SELECT ${position} AS position, ${query.columns} FROM ${query.from} ${whereClause(where)} ORDER BY ${position} DESC LIMIT ?`,
      ...params,
      page.limit + 1,
    )
    .toArray();
  const walked = rows.slice(0, page.limit);
  const kept = withinPageBudget(walked, sizeOf);
  const last = kept[kept.length - 1];
  const more = rows.length > page.limit || kept.length < walked.length;
  return ok({ rows: kept, next: more && last ? encodeCursor({ [field]: last.position }) : null });
}

/**
 * One page of a table of resource bodies (rows.ts), newest first, under the common list filters: the list of
 * every resource stored that way. `scope` narrows the rows first (a vault's credentials).
 */
export function listBodies<T>(
  sql: SqlStorage,
  table: string,
  args: ListArgs,
  scope: { where: string[]; params: SqlStorageValue[] } = { where: [], params: [] },
): Result<Page<T>> {
  const filters = listFilters(args);
  if (!filters.ok) return filters;
  const page = newestFirst<{ body: string }>(
    sql,
    { from: table, columns: 'body', where: [...scope.where, ...filters.value.where], params: [...scope.params, ...filters.value.params] },
    args,
    (r) => r.body.length,
  );
  if (!page.ok) return page;
  return ok({ data: page.value.rows.map((r) => deserialise<T>(r.body)), next_page: page.value.next });
}

/**
 * One page of a two-way list (the sessions'): `order` by insertion number, a `next_page` cursor onwards and a
 * `prev_page` cursor back. A backward cursor walks the other way from its row, then the page is put back in order.
 */
export function bothWays<R extends Record<string, SqlStorageValue>>(
  sql: SqlStorage,
  query: RowQuery,
  page: { limit: number; page?: string | undefined; order: 'asc' | 'desc' },
  sizeOf: (row: R) => number,
): Result<Page<R>> {
  const cursor = decodeTwoWayCursor(page.page);
  if (cursor === false) return fail('invalid_request_error', NOT_A_CURSOR);
  const walkDesc = cursor?.back ? page.order !== 'desc' : page.order === 'desc';
  const where = [...(query.where ?? [])];
  const params = [...(query.params ?? [])];
  if (cursor) {
    where.push(walkDesc ? 'n < ?' : 'n > ?');
    params.push(cursor.n);
  }
  const rows = sql
    .exec<R & { n: number }>(
      `SELECT n, ${query.columns} FROM ${query.from} ${whereClause(where)} ORDER BY n ${walkDesc ? 'DESC' : 'ASC'} LIMIT ?`,
      ...params,
      page.limit + 1,
    )
    .toArray();
  const walked = rows.slice(0, page.limit);
  const pageRows = withinPageBudget(walked, sizeOf);
  const more = rows.length > page.limit || pageRows.length < walked.length;
  if (cursor?.back) pageRows.reverse();
  const first = pageRows[0];
  const last = pageRows[pageRows.length - 1];
  const hasNext = cursor?.back ? true : more;
  const hasPrev = cursor?.back ? more : cursor !== null;
  return ok({
    data: pageRows,
    next_page: hasNext && last ? encodeCursor({ n: last.n }) : null,
    prev_page: hasPrev && first ? encodeCursor({ n: first.n, back: 1 }) : null,
  });
}

/** null: no cursor; false: a cursor we did not issue. */
function decodeTwoWayCursor(page: string | undefined): { n: number; back: boolean } | null | false {
  if (!page) return null;
  const c = decodeCursor(page);
  return c && typeof c.n === 'number' ? { n: c.n, back: c.back === 1 } : false;
}

function whereClause(where: string[]): string {
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}
