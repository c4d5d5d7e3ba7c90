// The organization API's paging (`Page` in the SDK): rows in creation order, `after_id` / `before_id` cursors that
// are the ids themselves, and `first_id` / `last_id` / `has_more` on every page.
import type { OrgPage } from '../../contract/workspace.ts';
import { fail, ok, type Result } from '../../contract/result.ts';

export interface OrgPageArgs {
  limit: number;
  after_id?: string | undefined;
  before_id?: string | undefined;
}

/**
 * One page of `table` (which has an `id`, and an insertion number in the column `position`: `n`, or `rowid`),
 * filtered by `where`. A cursor must name a row of the table (filtered or not), else the request is refused naming
 * the parameter.
 */
export function orgPage<R extends Record<string, SqlStorageValue>, T extends { id: string }>(
  sql: SqlStorage,
  table: string,
  filter: { where: string[]; params: SqlStorageValue[] },
  args: OrgPageArgs,
  toItem: (row: R) => T,
  position: 'n' | 'rowid' = 'n',
): Result<OrgPage<T>> {
  if (args.after_id && args.before_id) return fail('invalid_request_error', 'after_id, before_id: give one cursor, not both');
  const where = [...filter.where];
  const params = [...filter.params];
  const cursorName = args.after_id ? 'after_id' : args.before_id ? 'before_id' : null;
  const cursor = args.after_id ?? args.before_id;
  if (cursorName && cursor) {
    const at = sql.exec<{ n: number }>(`SELECT ${position} AS n FROM ${table} WHERE id = ?`, cursor).toArray()[0];
    if (!at) return fail('invalid_request_error', `${cursorName}: no such id '${cursor.slice(0, 64)}'`);
    where.push(cursorName === 'after_id' ? `${position} > ?` : `${position} < ?`);
    params.push(at.n);
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  // Walking backwards from before_id takes the rows nearest the cursor, then puts them back in creation order.
  const order = cursorName === 'before_id' ? 'DESC' : 'ASC';
  const rows = sql.exec<R>(`SELECT * FROM ${table} ${clause} ORDER BY ${position} ${order} LIMIT ?`, ...params, args.limit + 1).toArray();
  const kept = rows.slice(0, args.limit);
  if (order === 'DESC') kept.reverse();
  const data = kept.map(toItem);
  return ok({ data, has_more: rows.length > args.limit, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null });
}
