// A memory store's mount in a sandbox's filesystem, on either provider: making the files under the mount path match
// the store's memories before a tool call, and telling afterwards what the agent wrote or deleted there. Node's fs
// only; the local host calls it directly, the Cloudflare container through container-memory.ts.
import { closeSync, constants, fstatSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { MemoryChanges, SandboxMemoryStore, SandboxMemoryWrite } from './hands.ts';

/** Who owns a `read_write` mount's directory and files (the sandbox's user); absent: whoever writes them. */
export interface MountOwner {
  uid: number;
  gid: number;
}

/** A memory's content limit (docs/memory-stores.md): a larger file is refused here rather than sent. */
const MAX_CONTENT_BYTES = 102_400;
/** How many entries a mount's walk looks at: a mount with more is reported, not walked further. */
const MAX_ENTRIES = 10_000;

/** The segments of an absolute, normalised path; null for anything else (it must never leave `root`). */
function segments(p: string): string[] | null {
  const parts = p.split('/').filter(Boolean);
  if (!p.startsWith('/') || parts.some((s) => s === '.' || s === '..' || s.includes('\0'))) return null;
  return parts;
}

/** Where a mount is on this filesystem: `<root><mountPath>`; throws for a mount path that is not absolute and normalised. */
export function mountDir(root: string, mountPath: string): string {
  const parts = segments(mountPath);
  if (!parts || parts.length === 0) throw new Error(`mount path ${JSON.stringify(mountPath)} is not an absolute normalised path`);
  return path.join(root, ...parts);
}

/** A file under a mount as read: its text, or why it cannot be a memory. */
type Read = { text: string } | { problem: string };

/**
 * Each regular file under `dir`, by its path in the store (`/a/b.md`), read; and every other entry that is not a
 * directory. Never follows a link, even one swapped in while it walks (the agent's processes may run meanwhile and
 * this may run as root): each directory is held open and every name is looked up in it through /proc/self/fd, with
 * O_NOFOLLOW, so a link is an entry of its own, never a way to another file (Linux, as both providers are).
 */
function walk(dir: string): { files: Map<string, Read>; others: string[]; truncated: boolean } {
  const files = new Map<string, Read>();
  const others: string[] = [];
  let seen = 0;
  let truncated = false;
  const visit = (dirFd: number, rel: string): void => {
    const here = `/proc/self/fd/${dirFd}`;
    let names: string[];
    try {
      names = readdirSync(here);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (++seen > MAX_ENTRIES) {
        truncated = true;
        return;
      }
      const storePath = `${rel}/${name}`;
      const stat = lstatSync(`${here}/${name}`, { throwIfNoEntry: false });
      if (!stat) continue;
      if (!stat.isDirectory() && !stat.isFile()) {
        others.push(storePath);
        continue;
      }
      let fd: number;
      try {
        fd = openSync(`${here}/${name}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (stat.isDirectory() ? constants.O_DIRECTORY : 0));
      } catch {
        // swapped for a link (or removed) since it was listed
        others.push(storePath);
        continue;
      }
      try {
        const opened = fstatSync(fd);
        if (opened.isDirectory()) visit(fd, storePath);
        else if (opened.isFile()) files.set(storePath, readText(fd, opened.size));
        else others.push(storePath);
      } finally {
        closeSync(fd);
      }
    }
  };
  let top: number;
  try {
    top = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return { files, others, truncated };
  }
  try {
    visit(top, '');
  } finally {
    closeSync(top);
  }
  return { files, others, truncated };
}

function readText(fd: number, size: number): Read {
  if (size > MAX_CONTENT_BYTES) return { problem: `content: at most ${MAX_CONTENT_BYTES} bytes, got ${size}` };
  const bytes = Buffer.alloc(MAX_CONTENT_BYTES + 1);
  let length = 0;
  for (let n; length < bytes.length && (n = readSync(fd, bytes, length, bytes.length - length, null)) > 0; ) length += n;
  if (length > MAX_CONTENT_BYTES) return { problem: `content: at most ${MAX_CONTENT_BYTES} bytes` };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, length)) };
  } catch {
    return { problem: 'content: not UTF-8 text' };
  }
}

/** True when the files under the mount are not exactly the store's memories (something to place or remove). */
export function memoryMountDiffers(root: string, store: SandboxMemoryStore): boolean {
  const dir = mountDir(root, store.mountPath);
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return true;
  const { files, others } = walk(dir);
  if (others.length > 0 || files.size !== store.memories.length) return true;
  return store.memories.some((m) => {
    const read = files.get(m.path);
    return !read || !('text' in read) || read.text !== m.content;
  });
}

/**
 * Makes the directories down to the mount, each a real directory (0755, the writer's), the mount itself `owner`'s
 * for a `read_write` store. Answers the mount's directory. Throws when something on the way is not a directory.
 */
export function makeMountDir(root: string, store: SandboxMemoryStore, owner?: MountOwner): string {
  const parts = segments(store.mountPath);
  if (!parts || parts.length === 0) throw new Error(`mount path ${JSON.stringify(store.mountPath)} is not an absolute normalised path`);
  let at = root;
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const stat = lstatSync(at, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory()) throw new Error(`/${parts.slice(0, i + 1).join('/')} is not a directory`);
    if (!stat) {
      mkdirSync(at, { mode: 0o755 });
      if (i === parts.length - 1 && store.access === 'read_write' && owner) lchownSync(at, owner.uid, owner.gid);
    }
  }
  return at;
}

/**
 * Makes the files under `<root><mountPath>` exactly the store's memories: each memory written where its content
 * differs, everything else that is not a directory removed. The directories down to the mount are the writer's own
 * (0755); the mount and what is in it are `owner`'s for a `read_write` mount, the writer's and read-only (files
 * 0444) for a `read_only` one. No symlink is followed: one on the way to a memory is removed, never written through.
 * The caller makes sure nothing of the sandbox changes the mount meanwhile, or runs this as the mount's owner.
 */
export function syncMemoryMount(root: string, store: SandboxMemoryStore, owner?: MountOwner): void {
  const dir = makeMountDir(root, store, owner);
  const readOnly = store.access === 'read_only';
  const own = (p: string): void => {
    if (!readOnly && owner) lchownSync(p, owner.uid, owner.gid);
  };
  const wanted = new Map(store.memories.map((m) => [m.path, m.content]));
  const { files, others } = walk(dir);
  for (const other of others) rmSync(path.join(dir, other), { force: true, recursive: true });
  for (const p of files.keys()) if (!wanted.has(p)) rmSync(path.join(dir, p), { force: true });
  for (const [p, content] of wanted) {
    const memParts = segments(p);
    if (!memParts || memParts.length === 0) continue;
    const existing = files.get(p);
    if (existing && 'text' in existing && existing.text === content) continue;
    let d = dir;
    for (const part of memParts.slice(0, -1)) {
      d = path.join(d, part);
      const stat = lstatSync(d, { throwIfNoEntry: false });
      if (stat && !stat.isDirectory()) rmSync(d, { force: true });
      if (!stat || !stat.isDirectory()) {
        mkdirSync(d, { mode: 0o755 });
        own(d);
      }
    }
    const target = path.join(d, memParts.at(-1)!);
    // a directory the agent made where a memory goes is not a memory (its files were refused as overlapping)
    rmSync(target, { force: true, recursive: true });
    // O_EXCL|O_NOFOLLOW: a name that appeared meanwhile is not written through
    const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, readOnly ? 0o444 : 0o644);
    try {
      const bytes = Buffer.from(content, 'utf8');
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    } finally {
      closeSync(fd);
    }
    own(target);
  }
}

/**
 * What the agent changed under the mount since `syncMemoryMount` placed the store's memories: each file new or
 * changed is a write, each memory whose file is gone a delete, in path order. A file that cannot be a memory (not
 * UTF-8 text, over 100 kB, not a regular file) is refused; on a `read_only` mount every change is refused, so
 * nothing of it is saved (the next call's sync puts the memories back).
 */
export function collectMemoryMount(root: string, store: SandboxMemoryStore): MemoryChanges {
  const dir = mountDir(root, store.mountPath);
  const { files, others, truncated } = walk(dir);
  const writes: SandboxMemoryWrite[] = [];
  const refused: MemoryChanges['refused'] = others.map((p) => ({ path: p, reason: 'not a regular file' }));
  if (truncated) refused.push({ path: '/', reason: `more than ${MAX_ENTRIES} entries under the mount; those past it were not looked at` });
  const placed = new Map(store.memories.map((m) => [m.path, m.content]));
  for (const [p, read] of files) {
    if (!('text' in read)) refused.push({ path: p, reason: read.problem });
    else if (placed.get(p) !== read.text) writes.push({ type: 'write', path: p, content: read.text });
  }
  if (!truncated) for (const p of placed.keys()) if (!files.has(p)) writes.push({ type: 'delete', path: p });
  writes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (store.access === 'read_only') {
    return { storeId: store.storeId, writes: [], refused: [...refused, ...writes.map((w) => ({ path: w.path, reason: 'the mount is read_only' }))] };
  }
  return { storeId: store.storeId, writes, refused };
}
