// Runs inside the container, as root, before a tool call that needs it: clones the session's repositories, places its
// file resources and skills read-only, and removes the copies of those no longer listed. Reads its plan (tokens
// included) from stdin, which root's shell opened from root's own directory and removed; prints one JSON line.
// What it did is recorded in the state directory (root's alone), which dies with the container: a fresh container
// starts with nothing placed and nothing cloned, and gets everything again.
// Usage: node container-resources.ts --state <dir> --root <dir> --workspace <dir> [--owner <uid>:<gid>] < plan.json
import { lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RepositoryError, SandboxRepository } from '../hands.ts';
import { cloneRepository, repositoryFailure } from '../repository-clone.ts';
import { writeNewFile } from '../write-new-file.ts';
import { CLONE_MARKER_HEADER, STATE_FILE, type PlacedItem, type ResourcePlan, type ResourceReport, type ResourceState } from './resource-plan.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { state: { type: 'string' }, root: { type: 'string' }, workspace: { type: 'string' }, owner: { type: 'string' } } });
  if (!values.state || !values.root || !values.workspace) {
    process.stderr.write('usage: container-resources.ts --state <dir> --root <dir> --workspace <dir> [--owner <uid>:<gid>] < plan.json\n');
    process.exit(2);
  }
  // directories made here are 0755 and files 0444 whatever the container's umask
  process.umask(0o022);
  const owner = values.owner ? values.owner.split(':').map(Number) as [number, number] : undefined;
  // real paths: each directory entered is compared with getcwd, which knows no links
  const fs = new ContainerFs(real(values.root), real(values.workspace), owner);
  const plan = JSON.parse(readFileSync(0, 'utf8')) as ResourcePlan;
  const report = await apply(plan, path.resolve(values.state), fs);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function apply(plan: ResourcePlan, stateDir: string, fs: ContainerFs): Promise<ResourceReport> {
  const stateFile = path.join(stateDir, STATE_FILE);
  const state = readState(stateFile);
  const save = (): void => writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
  const report: ResourceReport = { repositoryErrors: [], failed: [] };

  // removals first: a skill's new version goes where its old one was
  for (const [id, item] of Object.entries(state.placed)) {
    if (plan.keep[id] === item.mountPath) continue;
    fs.remove(item);
    delete state.placed[id];
  }
  for (const id of Object.keys(state.failed)) if (plan.keep[id] === undefined) delete state.failed[id];
  save();

  for (const repo of plan.repositories) {
    if (state.repositories[repo.resourceId]) continue;
    const error = await clone(repo, stateDir, fs, plan.cloneMarker);
    state.repositories[repo.resourceId] = error ? 'failed' : 'cloned';
    if (error) report.repositoryErrors.push(error);
    save();
  }

  for (const item of plan.place) {
    const staged = path.join(stateDir, path.basename(item.stage));
    try {
      fs.place(item.mountPath, readFileSync(staged));
      state.placed[item.id] = { id: item.id, mountPath: item.mountPath, ...(item.pruneUpTo ? { pruneUpTo: item.pruneUpTo } : {}) };
      delete state.failed[item.id];
    } catch (error) {
      state.failed[item.id] = item.mountPath;
      report.failed.push({ id: item.id, reason: describe(error) });
    } finally {
      rmSync(staged, { force: true });
    }
    save();
  }
  for (const item of plan.unplaceable) state.failed[item.id] = item.mountPath;
  save();
  return report;
}

/**
 * Clones into a directory of the state directory, where only root may go (so nothing of the sandbox's can redirect
 * git's writes), hands the clone to the sandbox user, and moves it to its mount path.
 */
async function clone(repo: SandboxRepository, stateDir: string, fs: ContainerFs, marker: string | undefined): Promise<RepositoryError | null> {
  const fail = repositoryFailure(repo);
  const parts = segments(repo.mountPath);
  if (!parts) return fail('repository_clone_error', `mount path ${JSON.stringify(repo.mountPath)} is not an absolute normalised path`);
  const staging = mkdtempSync(path.join(stateDir, 'clone-'));
  try {
    const target = path.join(staging, 'repository');
    const error = await cloneRepository(target, repo, marker ? [['http.extraHeader', `${CLONE_MARKER_HEADER}: ${marker}`]] : []);
    if (error) return error;
    fs.handOver(target);
    fs.moveInto(target, parts);
    return null;
  } catch (error) {
    return fail('repository_clone_error', `${repo.url} was cloned but could not be put at ${repo.mountPath}: ${describe(error)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The container's filesystem as root changes it. Every directory on the way to a placed file is entered with chdir
 * and checked where it really is (getcwd) and whose it is, and the last step is relative to it: a link or a renamed
 * directory of the sandbox user's can make a placement fail, never send root's write elsewhere.
 */
class ContainerFs {
  private readonly root: string;
  private readonly workspace: string;
  private readonly owner: [number, number] | undefined;

  constructor(root: string, workspace: string, owner: [number, number] | undefined) {
    this.root = root;
    this.workspace = workspace;
    this.owner = owner;
  }

  /** Who places files: root in the image (a test's own user on a machine without containers). */
  private readonly self = process.getuid?.() ?? 0;

  /** Writes `bytes` at `mountPath`, where nothing is yet: root's, 0444, in root's 0755 directories. */
  place(mountPath: string, bytes: Uint8Array): void {
    const parts = segments(mountPath);
    if (!parts) throw new Error(`mount path ${JSON.stringify(mountPath)} is not an absolute normalised path`);
    const name = parts.at(-1)!;
    this.enter(parts.slice(0, -1), true);
    if (exists(name)) throw new Error(`${mountPath} already holds something`);
    writeNewFile(name, bytes, 0o444);
  }

  /** Removes a placed file, and the directories its removal left empty down to its `pruneUpTo`. Never throws. */
  remove(item: PlacedItem): void {
    const parts = segments(item.mountPath);
    if (!parts) return;
    try {
      this.enter(parts.slice(0, -1), false);
      const name = parts.at(-1)!;
      if (exists(name) && lstatSync(name).isFile() && lstatSync(name).uid === this.self) unlinkSync(name);
      const stop = item.pruneUpTo ? segments(item.pruneUpTo) : null;
      if (!stop) return;
      for (let depth = parts.length - 1; depth > stop.length; depth--) {
        process.chdir('..');
        const dir = parts[depth - 1]!;
        if (readdirSync(dir).length > 0) return;
        rmdirSync(dir);
      }
    } catch {
      // moved or changed by the sandbox: nothing of ours is left to remove there
    } finally {
      process.chdir(this.root);
    }
  }

  /** Gives a clone to the sandbox user: every entry, links themselves rather than what they point at. */
  handOver(dir: string): void {
    if (!this.owner) return;
    const [uid, gid] = this.owner;
    lchownSync(dir, uid, gid);
    for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) lchownSync(path.join(dir, entry), uid, gid);
  }

  /** Renames `source` (root's) to the mount path whose segments are `parts`, which must not exist yet. */
  moveInto(source: string, parts: string[]): void {
    this.enter(parts.slice(0, -1), true);
    const name = parts.at(-1)!;
    if (exists(name)) throw new Error(`/${parts.join('/')} already exists`);
    renameSync(source, name);
    process.chdir(this.root);
  }

  /**
   * Makes the directories `parts` (below the container's root) the working directory, each one root's own real
   * directory (made 0755 when missing, if `create`), or the workspace itself.
   */
  private enter(parts: string[], create: boolean): void {
    process.chdir(this.root);
    let expected = this.root;
    for (const part of parts) {
      expected = path.join(expected, part);
      if (create && !exists(part)) mkdirSync(part, { mode: 0o755 });
      if (!lstatSync(part).isDirectory()) throw new Error(`${this.shown(expected)} is not a directory`);
      process.chdir(part);
      if (process.cwd() !== expected) throw new Error(`${this.shown(expected)} moved while it was entered`);
      if (statSync('.').uid !== this.self && expected !== this.workspace)
        throw new Error(`${this.shown(expected)} belongs to the sandbox's user, so a file in it could not stay read-only`);
    }
  }

  private shown(p: string): string {
    return `/${path.relative(this.root, p)}`;
  }
}

function readState(file: string): ResourceState {
  try {
    return { repositories: {}, placed: {}, failed: {}, ...(JSON.parse(readFileSync(file, 'utf8')) as Partial<ResourceState>) };
  } catch {
    return { repositories: {}, placed: {}, failed: {} };
  }
}

/** The segments of an absolute, normalised path; null for anything else. */
function segments(mountPath: string): string[] | null {
  const parts = mountPath.split('/').filter(Boolean);
  if (!mountPath.startsWith('/') || parts.length === 0 || parts.some((s) => s === '.' || s === '..')) return null;
  return parts;
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function exists(name: string): boolean {
  try {
    lstatSync(name);
    return true;
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

await main();
