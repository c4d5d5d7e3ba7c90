// The memory stores' queries for a session's mount, run on a workspace's own storage: what the sandbox places, and
// how a session's writes become versions (one per change, attributed to the session, none lost).
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../../contract/memory-store.ts';
import { MemoryStores, sha256Hex } from '../../../resources/memory-stores/memory-stores.ts';
import { inWorkspace, refusal, value } from './workspace.ts';

const API: Actor = { type: 'api_actor', api_key_id: 'apikey_test' };

describe('memory stores for a session mount', () => {
  it('lists the memories under a prefix with content and current version, by path', () =>
    inWorkspace('memory_place', (storage) => {
      const stores = new MemoryStores(storage);
      const store = value(stores.create({ name: 'm' }));
      const a = value(stores.createMemory(store.id, { path: '/notes/a.md', content: 'A' }, API));
      const b = value(stores.createMemory(store.id, { path: '/notes/sub/b.md', content: 'B' }, API));
      value(stores.createMemory(store.id, { path: '/notes-old/c.md', content: 'C' }, API));
      const b2 = value(stores.updateMemory(store.id, b.id, { content: 'B2' }, API));
      expect(value(stores.memoriesToPlace(store.id, '/notes/'))).toEqual([
        { path: '/notes/a.md', content: 'A', memory_version_id: a.memory_version_id },
        { path: '/notes/sub/b.md', content: 'B2', memory_version_id: b2.memory_version_id },
      ]);
      expect(value(stores.memoriesToPlace(store.id)).map((m) => m.path)).toEqual(['/notes-old/c.md', '/notes/a.md', '/notes/sub/b.md']);
      expect(refusal(stores.memoriesToPlace('memstore_none')).type).toBe('not_found_error');
    }));

  it("applies a session's writes in order, each change a version by the session, the last write visible and none lost", () =>
    inWorkspace('memory_writes', (storage) => {
      const stores = new MemoryStores(storage);
      const store = value(stores.create({ name: 'm' }));
      const kept = value(stores.createMemory(store.id, { path: '/kept', content: 'k' }, API));
      const applied = value(
        stores.applySessionWrites(store.id, 'sesn_one', [
          { type: 'write', path: '/todo.md', content: 'first' },
          { type: 'write', path: '/todo.md', content: 'second' },
          { type: 'write', path: '/todo.md', content: 'second' },
          { type: 'write', path: '/kept/inside', content: 'x' },
          { type: 'write', path: '/a/../b', content: 'x' },
          { type: 'write', path: '/big', content: 'x'.repeat(102_401) },
          { type: 'delete', path: '/kept' },
          { type: 'delete', path: '/never' },
        ]),
      );
      expect(applied.map((w) => w.outcome)).toEqual(['created', 'modified', 'unchanged', 'refused', 'refused', 'refused', 'deleted', 'absent']);
      expect(applied[3]).toMatchObject({ reason: expect.stringContaining("'/kept'") });
      expect(applied[4]).toMatchObject({ reason: expect.stringMatching(/^path: /) });
      expect(applied[5]).toMatchObject({ reason: expect.stringMatching(/^content: at most 102400 bytes/) });

      // Another session writes the same path afterwards: its write wins, the first session's stays in the history.
      const later = value(stores.applySessionWrites(store.id, 'sesn_two', [{ type: 'write', path: '/todo.md', content: 'third' }]));
      const memories = value(stores.listMemories(store.id, { limit: 10, depth: 0, view: 'full' })).data;
      expect(memories).toEqual([expect.objectContaining({ path: '/todo.md', content: 'third', content_sha256: sha256Hex('third') })]);
      const todoId = applied[0]!.outcome === 'created' ? applied[0]!.memory_id : '';
      // It names the version it superseded: the first session's last write, which it may never have seen.
      const secondWrite = applied[1]!.outcome === 'modified' ? applied[1]!.memory_version_id : '';
      expect(later[0]).toMatchObject({ outcome: 'modified', memory_id: todoId, previous_version_id: secondWrite });
      const history = value(stores.listVersions(store.id, { limit: 10, memoryId: todoId, view: 'full' })).data;
      expect(history.map((v) => [v.content, v.created_by])).toEqual([
        ['third', { type: 'session_actor', session_id: 'sesn_two' }],
        ['second', { type: 'session_actor', session_id: 'sesn_one' }],
        ['first', { type: 'session_actor', session_id: 'sesn_one' }],
      ]);
      expect(value(stores.listVersions(store.id, { limit: 10, sessionId: 'sesn_one', view: 'basic' })).data).toHaveLength(3);
      const keptHistory = value(stores.listVersions(store.id, { limit: 10, memoryId: kept.id, view: 'basic' })).data;
      expect(keptHistory.map((v) => [v.operation, v.created_by.type])).toEqual([
        ['deleted', 'session_actor'],
        ['created', 'api_actor'],
      ]);
    }));

  it('refuses writes to an archived or unknown store, changing nothing', () =>
    inWorkspace('memory_writes_archived', (storage) => {
      const stores = new MemoryStores(storage);
      const store = value(stores.create({ name: 'm' }));
      value(stores.archive(store.id));
      expect(refusal(stores.applySessionWrites(store.id, 'sesn_x', [{ type: 'write', path: '/a', content: 'a' }])).type).toBe('invalid_request_error');
      expect(refusal(stores.applySessionWrites('memstore_none', 'sesn_x', [])).type).toBe('not_found_error');
      expect(value(stores.listVersions(store.id, { limit: 10, view: 'basic' })).data).toEqual([]);
    }));
});
