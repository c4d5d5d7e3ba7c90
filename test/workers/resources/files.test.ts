// The files module queried directly: metadata stored as given, newest-first paging, lists by ids and scope, what
// may be downloaded (not an undownloadable file, not an expired one), and delete.
import { describe, expect, it } from 'vitest';
import type { FileMetadata } from '../../../contract/file.ts';
import { newId } from '../../../contract/ids.ts';
import { Files } from '../../../resources/files/files.ts';
import { inWorkspace, refusal, value } from './workspace.ts';

function metadata(overrides: Partial<FileMetadata> = {}): FileMetadata {
  return {
    type: 'file',
    id: newId('file'),
    filename: 'f.txt',
    mime_type: 'text/plain',
    size_bytes: 1,
    created_at: new Date().toISOString(),
    downloadable: true,
    expires_at: null,
    scope: null,
    ...overrides,
  };
}

describe('files', () => {
  it('stores the metadata it is given and reads it back; an unknown id is not found, with its code', () =>
    inWorkspace('files_create', (storage) => {
      const files = new Files(storage);
      const f = value(files.create(metadata()));
      expect(value(files.get(f.id))).toEqual(f);
      expect(refusal(files.get('file_missing'))).toEqual({ type: 'not_found_error', message: "file 'file_missing' not found", code: 'file_not_found' });
      expect(refusal(files.create(metadata({ id: 'agent_x' }))).message).toMatch(/^id: expected a file id/);
    }));

  it('pages newest first, one file a page', () =>
    inWorkspace('files_paging', (storage) => {
      const files = new Files(storage);
      const made = [0, 1, 2].map(() => value(files.create(metadata())).id);
      const seen: string[] = [];
      let page: string | undefined;
      do {
        const p = value(files.list({ limit: 1, page }));
        expect(p.data).toHaveLength(1);
        seen.push(p.data[0]!.id);
        page = p.next_page ?? undefined;
      } while (page);
      expect(seen).toEqual(made.reverse());
    }));

  it('lists by ids as one page, without unknown ids, and by scope', () =>
    inWorkspace('files_ids', (storage) => {
      const files = new Files(storage);
      const a = value(files.create(metadata()));
      const b = value(files.create(metadata({ scope: { type: 'session', id: 'sesn_1' } })));
      expect(value(files.list({ limit: 20, ids: [a.id, 'file_unknown', b.id, a.id] }))).toEqual({ data: [b, a], next_page: null });
      expect(value(files.list({ limit: 20, scopeId: 'sesn_1' })).data).toEqual([b]);
      expect(files.findMany([a.id, 'file_unknown', a.id])).toEqual({ [a.id]: a });
    }));

  it('refuses the content of a file not downloadable (400) or past its expiry (404), with the official codes', () =>
    inWorkspace('files_readable', (storage) => {
      const files = new Files(storage);
      const now = Date.now();
      const ok = value(files.create(metadata({ expires_at: new Date(now + 3_600_000).toISOString() })));
      const hidden = value(files.create(metadata({ downloadable: false })));
      expect(value(files.readable(ok.id, now))).toEqual(ok);
      expect(refusal(files.readable(ok.id, now + 3_600_000))).toMatchObject({ type: 'not_found_error', code: 'file_expired' });
      expect(refusal(files.readable(hidden.id, now))).toMatchObject({ type: 'invalid_request_error', code: 'file_not_downloadable' });
    }));

  it('deletes, after which it is not found', () =>
    inWorkspace('files_delete', (storage) => {
      const files = new Files(storage);
      const f = value(files.create(metadata()));
      expect(value(files.delete(f.id))).toEqual({ id: f.id, type: 'file_deleted' });
      expect(files.find(f.id)).toBeUndefined();
      expect(refusal(files.delete(f.id)).type).toBe('not_found_error');
    }));
});
