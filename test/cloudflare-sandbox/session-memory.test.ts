// The Cloudflare provider's memory mounts, against the fake sandbox (whose "container" is a directory standing for
// its `/`): the store's memories at /mnt/memory/<slug>/<path> before the call; what the agent wrote, changed or
// deleted under a read_write mount reported with the outcome (and with a repeat of the call); a read_only mount
// refusing writes; the mount brought up to date with the store before the next call.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createContainerHands } from '../../sandbox/cloudflare/container-hands.ts';
import type { SandboxMemoryStore, SandboxSpec, ToolOutcome } from '../../sandbox/hands.ts';
import { asNobody, FakeSandboxes, NOBODY } from './support/fake-sandbox.ts';


const spec = (memoryStores: SandboxMemoryStore[]): SandboxSpec => ({
  sessionId: 'sesn_M1',
  workspaceId: 'wrkspc_default',
  environmentId: 'env_1',
  networking: { type: 'limited', allowed_hosts: [], allow_package_managers: false, allow_mcp_servers: false },
  files: [],
  skills: [],
  memoryStores,
});

const store = (access: SandboxMemoryStore['access'], memories: SandboxMemoryStore['memories'], slug = 'notes'): SandboxMemoryStore => ({
  storeId: `memstore_${slug}`,
  mountPath: `/mnt/memory/${slug}`,
  access,
  memories,
});

const text = (outcome: ToolOutcome): string => outcome.content.map((block) => block.text).join('');

let root: string;
let sandboxes: FakeSandboxes;
let n = 0;
const call = (command: string, key = `sevt_${++n}`) => ({ name: 'bash', input: { command }, idempotencyKey: key });
const inContainer = (mountPath: string): string => path.join(sandboxes.layout.rootDir, mountPath);

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'eh-cf-memory-'));
  sandboxes = new FakeSandboxes(root);
});

afterEach(() => {
  sandboxes.killAll();
  rmSync(root, { recursive: true, force: true });
});

describe('memory stores in a Cloudflare sandbox', () => {
  it('places the memories at the mount, reports the changes the agent made (the same on a repeat), and brings the mount up to date', async () => {
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const mount = inContainer('/mnt/memory/notes');
    const s = spec([store('read_write', [{ path: '/a.md', content: 'A' }, { path: '/sub/b.md', content: 'B' }])]);

    const read = await hands.execute(s, call(`cat ${mount}/a.md ${mount}/sub/b.md`));
    expect(text(read)).toBe('AB');
    expect(read.memoryChanges).toBeUndefined();

    const key = 'sevt_write';
    const wrote = await hands.execute(s, call(`printf new > ${mount}/c.md && printf A2 > ${mount}/a.md && rm ${mount}/sub/b.md && printf '\\377' > ${mount}/bin`, key));
    const expected = [
      {
        storeId: 'memstore_notes',
        writes: [
          { type: 'write', path: '/a.md', content: 'A2' },
          { type: 'write', path: '/c.md', content: 'new' },
          { type: 'delete', path: '/sub/b.md' },
        ],
        refused: [{ path: '/bin', reason: 'content: not UTF-8 text' }],
      },
    ];
    expect(wrote.memoryChanges).toEqual(expected);
    expect((await hands.execute(s, call('echo never run', key))).memoryChanges).toEqual(expected);

    // the store after the brain saved the writes, and another session changed /a.md: the mount follows it
    const next = spec([store('read_write', [{ path: '/a.md', content: 'theirs' }, { path: '/c.md', content: 'new' }])]);
    const listing = await hands.execute(next, call(`ls -A ${mount}; cat ${mount}/a.md`));
    expect(text(listing)).toBe('a.md\nc.md\nsub\ntheirs');
    expect(listing.memoryChanges).toBeUndefined();
  });

  it('refuses writes to a read_only mount (as nobody, on this machine), and reports nothing to save', async ({ skip }) => {
    const fake = asNobody(root);
    if (!fake) return skip('only root can switch users, and nobody must be able to read this checkout');
    sandboxes = fake;
    const hands = createContainerHands(fake.open, { layout: fake.layout });
    const rules = inContainer('/mnt/memory/rules');
    const notes = inContainer('/mnt/memory/notes');
    const s = spec([store('read_only', [{ path: '/rules.md', content: 'be kind' }], 'rules'), store('read_write', [{ path: '/n.md', content: 'n' }])]);

    const tries = await hands.execute(s, call(`cat ${rules}/rules.md; echo; echo x > ${rules}/rules.md; echo x > ${rules}/new.md; rm -f ${rules}/rules.md; printf mine > ${notes}/mine.md`));
    expect(text(tries)).toMatch(/^be kind\n.*Permission denied.*\n.*Permission denied.*\n.*Permission denied/s);
    expect(tries.memoryChanges).toEqual([{ storeId: 'memstore_notes', writes: [{ type: 'write', path: '/mine.md', content: 'mine' }], refused: [] }]);
    expect(statSync(path.join(rules, 'rules.md')).uid).toBe(0);
    expect(statSync(path.join(notes, 'n.md')).uid).toBe(NOBODY.uid);
    expect(statSync(notes).uid).toBe(NOBODY.uid);
  });
});
