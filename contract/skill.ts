// Skills, mirroring beta/skills/skills.d.ts and versions.d.ts: what a skill and a version answer, the upload's
// rules (one top-level directory with a SKILL.md whose front matter names the skill), and the size limits. The
// files' bytes live in R2 (worker/api/routes/skills.ts); the metadata in resources/skills/.
import { z } from 'zod';
import type { BetaDeletedSkill, BetaSkill } from '@anthropic-ai/sdk/resources/beta/skills/skills';
import type { BetaDeletedSkillVersion, BetaSkillVersion } from '@anthropic-ai/sdk/resources/beta/skills/versions';
import type { Assignable } from './common.ts';

/** Most bytes of one upload's files together: 8 MB, the official Skills API's limit. */
export const MAX_SKILL_BYTES = 8_000_000;
/** Most files in one upload. */
export const MAX_SKILL_FILES = 200;
/** Longest path of one file inside the skill's directory, in characters. */
export const MAX_SKILL_PATH = 512;
/** `display_name`: a single line of at most 255 characters (BetaSkill.display_name). */
export const MAX_DISPLAY_NAME = 255;
/** The front matter's `name`: kebab-case, at most 64 characters, as the Agent Skills format states it. */
export const MAX_SKILL_NAME = 64;
/** The front matter's `description`: at most 1024 characters, as the Agent Skills format states it. */
export const MAX_SKILL_DESCRIPTION = 1024;

export interface Skill {
  type: 'skill';
  id: string;
  created_at: string;
  updated_at: string;
  display_name: string;
  latest_version_id: string;
  source: { type: 'custom' };
}

export interface SkillVersion {
  type: 'skill_version';
  id: string;
  skill_id: string;
  created_at: string;
  name: string;
  description: string;
}

/** One file of a version: its path inside the skill's directory (`SKILL.md`, `scripts/run.py`) and its size. */
export interface SkillFile {
  path: string;
  size: number;
}

export interface DeletedSkill {
  id: string;
  type: 'skill_deleted';
}

export interface DeletedSkillVersion {
  id: string;
  type: 'skill_version_deleted';
}

// The contract, checked by the compiler: what we answer is what the SDK reads.
export type SkillIsOfficial = Assignable<Skill, BetaSkill>;
export type SkillVersionIsOfficial = Assignable<SkillVersion, BetaSkillVersion>;
export type DeletedSkillIsOfficial = Assignable<DeletedSkill, BetaDeletedSkill>;
export type DeletedSkillVersionIsOfficial = Assignable<DeletedSkillVersion, BetaDeletedSkillVersion>;

/** GET /v1/skills: PageCursorParams plus `source`; only custom skills live here, so `anthropic` lists none. */
export const SkillListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().min(1).optional(),
  source: z.enum(['custom', 'anthropic']).optional(),
});
export type SkillListQuery = z.infer<typeof SkillListQuery>;

export const VersionListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().min(1).optional(),
});

/** Where a version's file is in the FILES bucket: under its workspace, so no other workspace's key is ever formed. */
export function skillFileKey(workspaceId: string, skillId: string, version: string, path: string): string {
  return `${skillVersionPrefix(workspaceId, skillId, version)}${path}`;
}

export function skillVersionPrefix(workspaceId: string, skillId: string, version: string): string {
  return `${skillPrefix(workspaceId, skillId)}${version}/`;
}

export function skillPrefix(workspaceId: string, skillId: string): string {
  return `${workspaceId}/skills/${skillId}/`;
}

/**
 * What the model is told of one of the agent's skills: its name and description, and where its files are, so it
 * reads SKILL.md only when it needs it (progressive disclosure). Resolved when the session is created and kept in
 * its spec, so no step reads the store or R2 for it.
 */
export interface SkillSummary {
  name: string;
  description: string;
  path: string;
  /**
   * The skill and the version the session pinned, whose files the sandbox gets (read per tool call, never stored in
   * the spec). Absent in specs stored before skills were placed: such a skill is listed in the prompt, not placed.
   */
  skill_id?: string;
  version?: string;
}

/** Where the sandbox will hold a skill's files (placing them there is the sandbox's work). */
export function skillMountPath(name: string): string {
  return `/mnt/skills/${name}/`;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The upload's files, as the SDK sends them (`files[]` parts whose filenames are paths): all under one top-level
 * directory with `SKILL.md` at its root, or all at the root. Answers each file's path inside the skill's directory
 * and the directory's name ('' when flat); refuses `..`, absolute or empty paths and duplicates, naming `files`.
 */
export function skillLayout(paths: readonly string[]): Checked<{ directory: string; paths: string[] }> {
  if (paths.length === 0) return { ok: false, message: 'files: at least one file is required, including a SKILL.md' };
  const split: string[][] = [];
  for (const raw of paths) {
    const segments = raw.replace(/\\/g, '/').split('/');
    if (raw.length > MAX_SKILL_PATH) return { ok: false, message: `files: path '${raw.slice(0, 64)}…' is longer than ${MAX_SKILL_PATH} characters` };
    if (raw.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..'))
      return { ok: false, message: `files: '${raw}' is not a relative path inside the skill's directory` };
    split.push(segments);
  }
  const nested = split.every((s) => s.length > 1);
  const top = split[0]![0]!;
  const directory = nested && split.every((s) => s[0] === top) ? top : '';
  const inner = split.map((s) => (directory ? s.slice(1) : s).join('/'));
  const seen = new Set<string>();
  for (const p of inner) {
    if (seen.has(p)) return { ok: false, message: `files: '${p}' is sent more than once` };
    seen.add(p);
  }
  if (!seen.has('SKILL.md'))
    return { ok: false, message: `files: a SKILL.md is required at the root of the skill's directory${directory ? ` ('${directory}/SKILL.md')` : ''}` };
  return { ok: true, value: { directory, paths: inner } };
}

/**
 * The `name` and `description` of SKILL.md's YAML front matter (between `---` lines at its top). Only the plain
 * `key: value` lines of the format are read, quotes removed. A missing or malformed field is refused naming it.
 */
export function skillFrontMatter(text: string): Checked<{ name: string; description: string }> {
  const match = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---\s*(?:\r?\n|$)/.exec(text);
  if (!match) return { ok: false, message: "SKILL.md: expected YAML front matter between '---' lines at the top, with 'name' and 'description'" };
  const fields: Record<string, string> = {};
  for (const line of match[1]!.split(/\r?\n/)) {
    const kv = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
    if (kv) fields[kv[1]!] = kv[2]!.trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  const name = fields.name ?? '';
  const description = fields.description ?? '';
  if (name === '') return { ok: false, message: "SKILL.md: front matter field 'name' is missing" };
  if (name.length > MAX_SKILL_NAME || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name))
    return { ok: false, message: `SKILL.md: front matter field 'name' must be kebab-case (a-z, 0-9, '-'), at most ${MAX_SKILL_NAME} characters, got '${name.slice(0, 80)}'` };
  if (description === '') return { ok: false, message: "SKILL.md: front matter field 'description' is missing" };
  if (description.length > MAX_SKILL_DESCRIPTION)
    return { ok: false, message: `SKILL.md: front matter field 'description' is at most ${MAX_SKILL_DESCRIPTION} characters, got ${description.length}` };
  return { ok: true, value: { name, description } };
}
