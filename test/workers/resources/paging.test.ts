// The paging every list shares, over a scratch table: newest first by insertion number, archived rows and
// created_at bounds filtered, a page cut short by the 8M-character budget still leading on, the two-way cursor of
// the sessions' list, and cursors this API did not issue refused.
import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../../../contract/common.ts';
import { bothWays, listFilters, newestFirst, PAGE_CHARS, withinPageBudget, type ListArgs } from '../../../resources/shared/paging.ts';
import { inWorkspace, refusal, value } from './workspace.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** Rows r0…r{count-1}, one a day from T0; those listed in `archived` are archived. */
function scratch(storage: DurableObjectStorage, count: number, archived: number[] = []): SqlStorage {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE paging_rows (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, created_at TEXT NOT NULL, archived_at TEXT, body TEXT NOT NULL)`);
  for (let i = 0; i < count; i++) {
    const at = new Date(T0 + i * DAY).toISOString();
    sql.exec(`INSERT INTO paging_rows (id, created_at, archived_at, body) VALUES (?, ?, ?, ?)`, `r${i}`, at, archived.includes(i) ? at : null, `{"id":"r${i}"}`);
  }
  return sql;
}

function list(sql: SqlStorage, args: ListArgs, sizeOf: (r: { id: string }) => number = () => 1) {
  const filters = value(listFilters(args));
  return newestFirst<{ id: string }>(sql, { from: 'paging_rows', columns: 'id', ...filters }, args, sizeOf);
}

/** Every id, following next cursors from the first page. */
function walk(sql: SqlStorage, args: ListArgs): string[][] {
  const pages: string[][] = [];
  let page: string | undefined;
  do {
    const r = value(list(sql, { ...args, page }));
    pages.push(r.rows.map((row) => row.id));
    page = r.next ?? undefined;
  } while (page);
  return pages;
}

describe('newest-first paging', () => {
  it('lists newest first, a page at a time, the last page without a next cursor', () =>
    inWorkspace('paging_order', (storage) => {
      const sql = scratch(storage, 5);
      expect(walk(sql, { limit: 2 })).toEqual([['r4', 'r3'], ['r2', 'r1'], ['r0']]);
      expect(walk(sql, { limit: 5 })).toEqual([['r4', 'r3', 'r2', 'r1', 'r0']]);
    }));

  it('leaves archived rows out unless asked for', () =>
    inWorkspace('paging_archived', (storage) => {
      const sql = scratch(storage, 4, [1, 3]);
      expect(walk(sql, { limit: 10 })).toEqual([['r2', 'r0']]);
      expect(walk(sql, { limit: 10, includeArchived: true })).toEqual([['r3', 'r2', 'r1', 'r0']]);
    }));

  it('bounds created_at inclusively (gte, lte) and exclusively (gt, lt), in any RFC 3339 offset', () =>
    inWorkspace('paging_dates', (storage) => {
      const sql = scratch(storage, 5);
      const day = (i: number) => new Date(T0 + i * DAY).toISOString();
      expect(walk(sql, { limit: 10, createdGte: day(1), createdLte: day(3) })).toEqual([['r3', 'r2', 'r1']]);
      expect(walk(sql, { limit: 10, createdGt: day(1), createdLt: day(3) })).toEqual([['r2']]);
      // 2026-01-03T00:00Z written as 01:00 at +01:00.
      expect(walk(sql, { limit: 10, createdGte: '2026-01-03T01:00:00+01:00' })).toEqual([['r4', 'r3', 'r2']]);
      expect(refusal(listFilters({ limit: 1, createdLt: 'yesterday' })).message).toBe('created_at[lt]: expected an RFC 3339 timestamp');
    }));

  it('cuts a page at the character budget, always keeping one row, and leads on from where it stopped', () =>
    inWorkspace('paging_budget', (storage) => {
      const sql = scratch(storage, 5);
      const third = Math.floor(PAGE_CHARS / 3) + 1;
      // Three rows of a third of the budget each do not fit: two per page, though the limit allows five.
      const pages: string[][] = [];
      let page: string | undefined;
      do {
        const r = value(list(sql, { limit: 5, page }, () => third));
        pages.push(r.rows.map((row) => row.id));
        page = r.next ?? undefined;
      } while (page);
      expect(pages).toEqual([['r4', 'r3'], ['r2', 'r1'], ['r0']]);
      // A single row over the whole budget is still a page of one.
      expect(withinPageBudget(['huge', 'next'], () => PAGE_CHARS * 2)).toEqual(['huge']);
    }));

  it('refuses a cursor it did not issue, naming page', () =>
    inWorkspace('paging_cursor', (storage) => {
      const sql = scratch(storage, 2);
      for (const page of ['not-a-cursor', encodeCursor({ v: 3 }), encodeCursor({ n: 'x' })])
        expect(refusal(list(sql, { limit: 1, page }))).toEqual({ type: 'invalid_request_error', message: 'page: not a cursor returned by this API' });
    }));

  it('pages by version when asked to, with a cursor of its own', () =>
    inWorkspace('paging_versions', (storage) => {
      const sql = storage.sql;
      sql.exec(`CREATE TABLE versions (version INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
      for (const v of [1, 2, 3]) sql.exec(`INSERT INTO versions (version, body) VALUES (?, ?)`, v, `v${v}`);
      const first = value(newestFirst<{ body: string }>(sql, { from: 'versions', columns: 'body' }, { limit: 2 }, () => 1, 'version'));
      expect(first.rows.map((r) => r.body)).toEqual(['v3', 'v2']);
      const second = value(newestFirst<{ body: string }>(sql, { from: 'versions', columns: 'body' }, { limit: 2, page: first.next! }, () => 1, 'version'));
      expect(second).toMatchObject({ rows: [{ body: 'v1' }], next: null });
      expect(refusal(newestFirst(sql, { from: 'versions', columns: 'body' }, { limit: 2, page: encodeCursor({ n: 1 }) }, () => 1, 'version')).type).toBe(
        'invalid_request_error',
      );
    }));
});

describe('two-way paging (the sessions’ list)', () => {
  const ids = (r: { data: Array<{ id: string }> }) => r.data.map((row) => row.id);
  const page = (sql: SqlStorage, order: 'asc' | 'desc', cursor?: string | null) =>
    value(bothWays<{ id: string }>(sql, { from: 'paging_rows', columns: 'id' }, { limit: 2, order, page: cursor ?? undefined }, () => 1));

  it('walks forward with next_page and back with prev_page, in either order', () =>
    inWorkspace('paging_both_ways', (storage) => {
      const sql = scratch(storage, 5);
      const first = page(sql, 'desc');
      expect(ids(first)).toEqual(['r4', 'r3']);
      expect(first.prev_page).toBeNull();
      const second = page(sql, 'desc', first.next_page);
      expect(ids(second)).toEqual(['r2', 'r1']);
      const third = page(sql, 'desc', second.next_page);
      expect(ids(third)).toEqual(['r0']);
      expect(third.next_page).toBeNull();
      const back = page(sql, 'desc', third.prev_page);
      expect(ids(back)).toEqual(['r2', 'r1']);
      const backAgain = page(sql, 'desc', back.prev_page);
      expect(ids(backAgain)).toEqual(['r4', 'r3']);
      expect(backAgain.prev_page).toBeNull();
      expect(ids(page(sql, 'asc'))).toEqual(['r0', 'r1']);
      expect(ids(page(sql, 'asc', page(sql, 'asc').next_page))).toEqual(['r2', 'r3']);
    }));

  it('refuses a cursor it did not issue', () =>
    inWorkspace('paging_both_ways_cursor', (storage) => {
      const sql = scratch(storage, 1);
      expect(refusal(bothWays(sql, { from: 'paging_rows', columns: 'id' }, { limit: 2, order: 'desc', page: 'nope' }, () => 1)).message).toBe(
        'page: not a cursor returned by this API',
      );
    }));
});
