// Placing a session's file resources in its workspace, by the host, read-only to the sandbox: each file at
// `<workspace><mountPath>`, owned by root (the host's user), mode 0444, in directories the host owns (0755), so the
// sandbox's user can read the file but not write, delete or replace it. A record of what was placed lets a file
// resource removed from the session take its copy with it.
import { closeSync, constants, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** What this session's workspace holds: resource id → the mount path its file was placed at. */
const RECORD = 'files.json';

export type PlacedFiles = Record<string, string>;

export function placedFiles(sessionDir: string): PlacedFiles {
  const file = path.join(sessionDir, RECORD);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PlacedFiles) : {};
}

function record(sessionDir: string, placed: PlacedFiles): void {
  mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
  const file = path.join(sessionDir, RECORD);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, JSON.stringify(placed));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
}

/** The segments of an absolute, normalised mount path; null for anything else (it must never leave the workspace). */
function segments(mountPath: string): string[] | null {
  const parts = mountPath.split('/').filter(Boolean);
  if (!mountPath.startsWith('/') || parts.length === 0 || parts.some((s) => s === '.' || s === '..')) return null;
  return parts;
}

/**
 * Writes `bytes` at `<workspace><mountPath>` read-only to the sandbox. Every directory on the way below the workspace
 * must be the host's own real directory (created if missing): one the sandbox made, or a symlink, is refused, so
 * the host never writes where the sandbox could redirect it. The caller makes sure no sandbox of the session runs
 * meanwhile (the host stops it), so nothing can swap a directory between the check and the write.
 * Throws an Error whose message says why the file could not be placed.
 */
export function placeFile(sessionDir: string, workspace: string, resourceId: string, mountPath: string, bytes: Uint8Array): void {
  const parts = segments(mountPath);
  if (!parts) throw new Error(`mount path ${JSON.stringify(mountPath)} is not an absolute normalised path`);
  const placed = placedFiles(sessionDir);
  const owner = process.getuid?.() ?? 0;
  let dir = workspace;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o755 });
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== owner)
      throw new Error(`${mountPath} cannot be placed: ${path.relative(workspace, dir)} in the workspace was made by the sandbox, not by the host`);
  }
  const target = path.join(dir, parts.at(-1)!);
  if (existsSync(target) || isLink(target)) {
    if (placed[resourceId] !== mountPath) throw new Error(`${mountPath} cannot be placed: the workspace already has something there`);
    rmSync(target, { force: true });
  }
  // O_EXCL|O_NOFOLLOW: a name that appeared meanwhile is not written through
  const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o444);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
  } finally {
    closeSync(fd);
  }
  record(sessionDir, { ...placed, [resourceId]: mountPath });
}

/** The placed files and the directories the host made for them: what a hand-over to the sandbox's user must skip. */
export function hostOwned(sessionDir: string, workspace: string): Set<string> {
  const keep = new Set<string>();
  for (const mountPath of Object.values(placedFiles(sessionDir))) {
    const parts = segments(mountPath);
    if (!parts) continue;
    for (let i = 1; i <= parts.length; i++) keep.add(path.join(workspace, ...parts.slice(0, i)));
  }
  return keep;
}

/** Removes the copies of file resources no longer in `keep` (the session's resources deleted since). */
export function removeUnlisted(sessionDir: string, workspace: string, keep: Set<string>): void {
  const placed = placedFiles(sessionDir);
  const left: PlacedFiles = {};
  let changed = false;
  for (const [id, mountPath] of Object.entries(placed)) {
    if (keep.has(id)) {
      left[id] = mountPath;
      continue;
    }
    const parts = segments(mountPath);
    if (parts) rmSync(path.join(workspace, ...parts), { force: true });
    changed = true;
  }
  if (changed) record(sessionDir, left);
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
