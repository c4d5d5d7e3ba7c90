// A session's memory stores mounted by the local host (sandbox/memory-mount.ts), through the Worker's client: the
// store's memories at /mnt/memory/<slug>/<path> before the call; a read_only mount refuses writes; what the agent
// writes or deletes under a read_write mount comes back with the call's outcome (and with its repeat), and the next
// call's mount holds the store as it is then.
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SandboxMemoryStore, SandboxSpec } from '../../sandbox/hands.ts';
import { newKey, spec, text, useHost } from './fixture.ts';

const store = (access: SandboxMemoryStore['access'], memories: SandboxMemoryStore['memories'], slug = 'notes'): SandboxMemoryStore => ({
  storeId: `memstore_${slug}`,
  mountPath: `/mnt/memory/${slug}`,
  access,
  memories,
});

describe('memory stores in the local sandbox', () => {
  const host = useHost();
  const run = (s: SandboxSpec, command: string, key = newKey()) => host.hands.execute(s, { name: 'bash', input: { command }, idempotencyKey: key });

  it('places every memory at its path under the mount, where cat prints it, and reports no change for a read', async () => {
    const s = { ...spec('sess_mem_read'), memoryStores: [store('read_write', [{ path: '/food/likes.md', content: 'Ramen\n' }, { path: '/todo.md', content: 'buy milk' }])] };
    const read = await run(s, 'cat /mnt/memory/notes/food/likes.md mnt/memory/notes/todo.md');
    expect(read.isError, text(read)).toBe(false);
    expect(text(read)).toContain('Ramen');
    expect(text(read)).toContain('buy milk');
    expect(read.memoryChanges).toBeUndefined();
  });

  it('reports what the agent wrote, changed and deleted under a read_write mount, the same on a repeat of the call', async () => {
    const s = { ...spec('sess_mem_write'), memoryStores: [store('read_write', [{ path: '/a.md', content: 'a' }, { path: '/b.md', content: 'b' }])] };
    const key = newKey();
    const outcome = await run(s, 'mkdir -p /mnt/memory/notes/new && printf fresh > /mnt/memory/notes/new/c.md && printf A > /mnt/memory/notes/a.md && rm /mnt/memory/notes/b.md', key);
    expect(outcome.isError, text(outcome)).toBe(false);
    const expected = [
      {
        storeId: 'memstore_notes',
        writes: [
          { type: 'write', path: '/a.md', content: 'A' },
          { type: 'delete', path: '/b.md' },
          { type: 'write', path: '/new/c.md', content: 'fresh' },
        ],
        refused: [],
      },
    ];
    expect(outcome.memoryChanges).toEqual(expected);
    // the brain retrying the call (it crashed before saving) gets the same changes, from the record, not a new run
    expect((await run(s, 'echo never run', key)).memoryChanges).toEqual(expected);
    // the files are the sandbox user's own
    expect(lstatSync(path.join(host.workspace('sess_mem_write'), 'mnt/memory/notes/new/c.md')).isFile()).toBe(true);
  });

  it('refuses files that cannot be memories alone, and puts the mount back as the store has it before the next call', async () => {
    const s = { ...spec('sess_mem_refuse'), memoryStores: [store('read_write', [{ path: '/keep.md', content: 'keep' }])] };
    const outcome = await run(s, "printf 'ok' > /mnt/memory/notes/ok.md && head -c 200000 /dev/zero | tr '\\0' x > /mnt/memory/notes/big.md && printf '\\377\\376' > /mnt/memory/notes/bin && ln -s /etc/passwd /mnt/memory/notes/link");
    expect(outcome.isError, text(outcome)).toBe(false);
    const changes = outcome.memoryChanges![0]!;
    expect(changes.writes).toEqual([{ type: 'write', path: '/ok.md', content: 'ok' }]);
    expect(changes.refused.map((r) => r.path).sort()).toEqual(['/big.md', '/bin', '/link']);
    expect(changes.refused.find((r) => r.path === '/big.md')!.reason).toMatch(/102400 bytes/);
    expect(changes.refused.find((r) => r.path === '/bin')!.reason).toMatch(/UTF-8/);
    // the store saved ok.md (as the brain would have): the next call sees the store's files, the refused ones gone
    const next = { ...s, memoryStores: [store('read_write', [{ path: '/keep.md', content: 'keep' }, { path: '/ok.md', content: 'ok' }])] };
    const listing = await run(next, 'ls -A /mnt/memory/notes');
    expect(text(listing).split(/\s+/).filter(Boolean).sort()).toEqual(['keep.md', 'ok.md']);
    expect(listing.memoryChanges).toBeUndefined();
  });

  it('brings in what another session saved since the last call', async () => {
    const s = { ...spec('sess_mem_other'), memoryStores: [store('read_write', [{ path: '/shared.md', content: 'mine' }])] };
    expect(text(await run(s, 'cat /mnt/memory/notes/shared.md'))).toContain('mine');
    const changed = { ...s, memoryStores: [store('read_write', [{ path: '/shared.md', content: 'theirs' }])] };
    const read = await run(changed, 'cat /mnt/memory/notes/shared.md');
    expect(text(read)).toContain('theirs');
    expect(read.memoryChanges).toBeUndefined();
  });

  it('refuses writes to a read_only mount with a visible error, and reports nothing to save', async () => {
    const s = { ...spec('sess_mem_ro'), memoryStores: [store('read_only', [{ path: '/rules.md', content: 'be kind' }], 'rules')] };
    expect(text(await run(s, 'cat /mnt/memory/rules/rules.md'))).toContain('be kind');
    for (const attempt of ['echo x > /mnt/memory/rules/rules.md', 'echo x > /mnt/memory/rules/new.md', 'rm -f /mnt/memory/rules/rules.md', 'mkdir /mnt/memory/rules/dir']) {
      const outcome = await run(s, attempt);
      expect(text(outcome), attempt).toMatch(/Permission denied|Operation not permitted|Read-only/);
      expect(outcome.memoryChanges, attempt).toBeUndefined();
    }
    const write = await host.hands.execute(s, { name: 'write', input: { file_path: '/mnt/memory/rules/new.md', content: 'x' }, idempotencyKey: newKey() });
    expect(write.isError, text(write)).toBe(true);
    const placed = lstatSync(path.join(host.workspace('sess_mem_ro'), 'mnt/memory/rules/rules.md'));
    expect(placed.mode & 0o777).toBe(0o444);
  });
});
