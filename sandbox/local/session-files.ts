// Placing files in a session's workspace, by the host, read-only to the sandbox: the session's file resources and
// its skills' files, each at `<workspace><mountPath>`, owned by root (the host's user), mode 0444, in directories the
// host owns (0755), so the sandbox's user can read the file but not write, delete or replace it. A record of what
// was placed, one per kind, lets a file resource or skill removed from the session take its copies with it.
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { writeNewFile } from '../write-new-file.ts';

/**
 * What is placed, each kind with its own record of key → the mount path its file was placed at: `files` keyed by
 * resource id, `skills` by `<skill id>/<version>/<path>` (`skillPlacements`).
 */
export type PlacedKind = 'files' | 'skills';
const RECORDS: Record<PlacedKind, string> = { files: 'files.json', skills: 'skills.json' };

export type PlacedFiles = Record<string, string>;

export function placedFiles(sessionDir: string, kind: PlacedKind): PlacedFiles {
  const file = path.join(sessionDir, RECORDS[kind]);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PlacedFiles) : {};
}

function record(sessionDir: string, kind: PlacedKind, placed: PlacedFiles): void {
  mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
  const file = path.join(sessionDir, RECORDS[kind]);
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

/** Where a skill's files go: `/mnt/skills/<name>/`, as the system prompt tells the model. */
export const SKILLS_MOUNT = '/mnt/skills';

/**
 * Each file of a skill as placed: its record key (a new version is new keys, so the old version's files go) and
 * its mount path. Throws when the name is not the front matter's kebab-case or a path is not relative and
 * normalised: nothing of such a skill is placed.
 */
export function skillPlacements(skill: { skillId: string; version: string; name: string; files: ReadonlyArray<{ path: string }> }): Array<{ key: string; path: string; mountPath: string }> {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(skill.name) || skill.name.length > 64) throw new Error(`skill name ${JSON.stringify(skill.name)} is not a kebab-case name`);
  return skill.files.map((f) => {
    const parts = f.path.split('/');
    if (f.path.includes('\0') || parts.some((s) => s === '' || s === '.' || s === '..'))
      throw new Error(`skill ${skill.name}: file path ${JSON.stringify(f.path)} is not a relative normalised path`);
    return { key: `${skill.skillId}/${skill.version}/${f.path}`, path: f.path, mountPath: `${SKILLS_MOUNT}/${skill.name}/${f.path}` };
  });
}

/**
 * Writes `bytes` at `<workspace><mountPath>` read-only to the sandbox. Every directory on the way below the workspace
 * must be the host's own real directory (created if missing): one the sandbox made, or a symlink, is refused, so
 * the host never writes where the sandbox could redirect it. The caller makes sure no sandbox of the session runs
 * meanwhile (the host stops it), so nothing can swap a directory between the check and the write.
 * Throws an Error whose message says why the file could not be placed.
 */
export function placeFile(sessionDir: string, workspace: string, kind: PlacedKind, key: string, mountPath: string, bytes: Uint8Array): void {
  const parts = segments(mountPath);
  if (!parts) throw new Error(`mount path ${JSON.stringify(mountPath)} is not an absolute normalised path`);
  const placed = placedFiles(sessionDir, kind);
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
    if (placed[key] !== mountPath) throw new Error(`${mountPath} cannot be placed: the workspace already has something there`);
    rmSync(target, { force: true });
  }
  writeNewFile(target, bytes, 0o444);
  record(sessionDir, kind, { ...placed, [key]: mountPath });
}

/** The placed files and the directories the host made for them: what a hand-over to the sandbox's user must skip. */
export function hostOwned(sessionDir: string, workspace: string): Set<string> {
  const keep = new Set<string>();
  const all = [...Object.values(placedFiles(sessionDir, 'files')), ...Object.values(placedFiles(sessionDir, 'skills'))];
  for (const mountPath of all) {
    const parts = segments(mountPath);
    if (!parts) continue;
    for (let i = 1; i <= parts.length; i++) keep.add(path.join(workspace, ...parts.slice(0, i)));
  }
  return keep;
}

/**
 * Removes the placed copies whose keys are not in `keep` (the session's resources deleted since, a skill no longer
 * the agent's), and the host's directories left empty below the top-level one: that one stays, as a repository or
 * the sandbox's own files may sit beside, and /mnt is bound to it (bwrap-drop.ts).
 */
export function removeUnlisted(sessionDir: string, workspace: string, kind: PlacedKind, keep: ReadonlySet<string>): void {
  const placed = placedFiles(sessionDir, kind);
  const left: PlacedFiles = {};
  let changed = false;
  for (const [id, mountPath] of Object.entries(placed)) {
    if (keep.has(id)) {
      left[id] = mountPath;
      continue;
    }
    const parts = segments(mountPath);
    // through real directories only: one the sandbox swapped for a symlink would point the removal elsewhere
    if (parts && realDirectories(workspace, parts.slice(0, -1))) {
      rmSync(path.join(workspace, ...parts), { force: true });
      for (let n = parts.length - 1; n > 1; n--) if (!removeEmptyHostDir(path.join(workspace, ...parts.slice(0, n)))) break;
    }
    changed = true;
  }
  if (changed) record(sessionDir, kind, left);
}

function realDirectories(workspace: string, parts: string[]): boolean {
  try {
    return parts.every((_, n) => lstatSync(path.join(workspace, ...parts.slice(0, n + 1))).isDirectory());
  } catch {
    return false;
  }
}

/** Removes `dir` when it is the host's own real directory and empty; answers whether it did. */
function removeEmptyHostDir(dir: string): boolean {
  try {
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== (process.getuid?.() ?? 0) || readdirSync(dir).length > 0) return false;
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
