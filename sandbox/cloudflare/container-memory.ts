// Runs inside the container around a tool call: mounts the session's memory stores before it (`sync`) and reports
// what the agent changed under them after it (`collect`), by sandbox/memory-mount.ts. The stores (memories included)
// come on stdin, opened by root's shell from root's state directory; one JSON line is printed.
// `sync --phase root` (as root): read_only stores placed root's and read-only, read_write mounts' directories made and
// given to `--owner`; `sync --phase user` (as the sandbox's user): read_write stores placed, so root never writes
// where the agent could redirect it; `sync --phase all`: both, as whoever runs it (a container without a sandbox user).
// `collect` (as the sandbox's user): the changes, as MemoryChanges[].
// Usage: node container-memory.ts sync|collect --root <dir> [--phase root|user|all] [--owner <uid>:<gid>] < stores.json
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { SandboxMemoryStore } from '../hands.ts';
import { collectMemoryMount, makeMountDir, syncMemoryMount, type MountOwner } from '../memory-mount.ts';

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { root: { type: 'string' }, phase: { type: 'string' }, owner: { type: 'string' } } });
  const mode = positionals[0];
  if (!values.root || (mode !== 'sync' && mode !== 'collect')) {
    process.stderr.write('usage: container-memory.ts sync|collect --root <dir> [--phase root|user|all] [--owner <uid>:<gid>] < stores.json\n');
    process.exit(2);
  }
  process.umask(0o022);
  const root = values.root;
  const stores = JSON.parse(readFileSync(0, 'utf8')) as SandboxMemoryStore[];
  if (mode === 'collect') {
    const changes = stores.map((s) => collectMemoryMount(root, s)).filter((c) => c.writes.length > 0 || c.refused.length > 0);
    process.stdout.write(`${JSON.stringify({ changes })}\n`);
    return;
  }
  const phase = values.phase ?? 'all';
  const owner: MountOwner | undefined = values.owner ? { uid: Number(values.owner.split(':')[0]), gid: Number(values.owner.split(':')[1]) } : undefined;
  const errors: Array<{ storeId: string; message: string }> = [];
  for (const store of stores) {
    try {
      if (phase === 'all') syncMemoryMount(root, store, owner);
      else if (phase === 'root') {
        if (store.access === 'read_only') syncMemoryMount(root, store);
        else makeMountDir(root, store, owner);
      } else if (store.access === 'read_write') syncMemoryMount(root, store);
    } catch (error) {
      errors.push({ storeId: store.storeId, message: error instanceof Error ? error.message : String(error) });
    }
  }
  process.stdout.write(`${JSON.stringify({ errors })}\n`);
}

main();
