// Skills: each custom skill of the workspace and its versions (name and description from the version's SKILL.md,
// and the paths of its files; the bytes are in R2 under keys the API derives from workspace, skill and version).
// A skill always has at least one version: its last one cannot be deleted, the skill is deleted instead.
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import { skillMountPath, type DeletedSkill, type DeletedSkillVersion, type Skill, type SkillFile, type SkillSummary, type SkillVersion } from '../../contract/skill.ts';
import { newestFirst } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { deserialise, readBody, serialise, writeBody } from '../shared/rows.ts';

const TABLE = 'skills';

const notFound = (id: string): Result<never> => fail('not_found_error', `skill '${id}' not found`);
const versionNotFound = (skillId: string, version: string): Result<never> =>
  fail('not_found_error', `skill '${skillId}' has no version '${version}'`);

/** An agent's `skills` entry as sent. */
export interface SkillEntry {
  type: 'anthropic' | 'custom';
  skill_id: string;
  version?: string | null | undefined;
}

/** A version's metadata and the files it holds. */
export interface StoredSkillVersion {
  version: SkillVersion;
  files: SkillFile[];
}

export class Skills extends Queries {
  /** Records a new skill with its first version, whose files are already stored. */
  create(skill: Skill, first: StoredSkillVersion): Result<Skill> {
    if (!skill.id.startsWith('skill_')) return fail('invalid_request_error', `id: expected a skill id, got '${skill.id}'`);
    this.storage.transactionSync(() => {
      this.sql.exec(`INSERT INTO skills (id, created_at, body) VALUES (?, ?, ?)`, skill.id, skill.created_at, serialise(skill));
      this.insertVersion(first);
    });
    return ok(skill);
  }

  /**
   * Adds a version (files already stored) and makes it the latest. Its name must be the skill's: the name is the
   * skill's immutable slug, set by its first upload.
   */
  addVersion(skillId: string, next: StoredSkillVersion): Result<SkillVersion> {
    const skill = this.find(skillId);
    if (!skill) return notFound(skillId);
    const latest = this.findVersion(skillId, skill.latest_version_id);
    if (latest && latest.version.name !== next.version.name)
      return fail('invalid_request_error', `SKILL.md: front matter field 'name' is '${next.version.name}', but this skill's name is '${latest.version.name}'; every version keeps the first one's name`);
    this.storage.transactionSync(() => {
      this.insertVersion(next);
      const updated: Skill = { ...skill, latest_version_id: next.version.id, updated_at: next.version.created_at };
      writeBody(this.sql, TABLE, updated);
    });
    return ok(next.version);
  }

  get(id: string): Result<Skill> {
    const skill = this.find(id);
    return skill ? ok(skill) : notFound(id);
  }

  list(args: { limit: number; page?: string | undefined }): Result<Page<Skill>> {
    const page = newestFirst<{ body: string }>(this.sql, { from: TABLE, columns: 'body' }, args, (r) => r.body.length);
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => deserialise<Skill>(r.body)), next_page: page.value.next });
  }

  /** Deletes the skill and every version; answers the versions, whose bytes the caller then removes. */
  delete(id: string): Result<{ deleted: DeletedSkill; versions: string[] }> {
    if (!this.find(id)) return notFound(id);
    const versions = this.sql.exec<{ version: string }>(`SELECT version FROM skill_versions WHERE skill_id = ?`, id).toArray().map((r) => r.version);
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM skill_versions WHERE skill_id = ?`, id);
      this.sql.exec(`DELETE FROM skills WHERE id = ?`, id);
    });
    return ok({ deleted: { id, type: 'skill_deleted' }, versions });
  }

  /** The version, with its files; `latest` names the skill's newest. */
  getVersion(skillId: string, version: string): Result<StoredSkillVersion> {
    const skill = this.find(skillId);
    if (!skill) return notFound(skillId);
    const found = this.findVersion(skillId, version === 'latest' ? skill.latest_version_id : version);
    return found ? ok(found) : versionNotFound(skillId, version);
  }

  listVersions(skillId: string, args: { limit: number; page?: string | undefined }): Result<Page<SkillVersion>> {
    if (!this.find(skillId)) return notFound(skillId);
    const page = newestFirst<{ body: string }>(
      this.sql,
      { from: 'skill_versions', columns: 'body', where: ['skill_id = ?'], params: [skillId] },
      args,
      (r) => r.body.length,
    );
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => deserialise<SkillVersion>(r.body)), next_page: page.value.next });
  }

  /** Deletes one version; the newest remaining becomes the latest. The only version is refused: delete the skill. */
  deleteVersion(skillId: string, version: string): Result<{ deleted: DeletedSkillVersion; files: SkillFile[] }> {
    const skill = this.find(skillId);
    if (!skill) return notFound(skillId);
    const found = this.findVersion(skillId, version);
    if (!found) return versionNotFound(skillId, version);
    const newestOther = this.sql
      .exec<{ version: string; body: string }>(`SELECT version, body FROM skill_versions WHERE skill_id = ? AND version != ? ORDER BY n DESC LIMIT 1`, skillId, version)
      .toArray()[0];
    if (!newestOther)
      return fail('invalid_request_error', `version: '${version}' is the only version of skill '${skillId}'; a skill holds at least one version, delete the skill instead`);
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM skill_versions WHERE skill_id = ? AND version = ?`, skillId, version);
      const updated: Skill = { ...skill, latest_version_id: newestOther.version };
      if (skill.latest_version_id === version) writeBody(this.sql, TABLE, updated);
    });
    return ok({ deleted: { id: version, type: 'skill_version_deleted' }, files: found.files });
  }

  /**
   * An agent's `skills` entries, each custom one pinned to a version of this workspace (`latest` or none: the
   * newest), as BetaManagedAgentsCustomSkill says a saved agent holds them. Refuses, naming `<root>[i].skill_id`
   * or `.version`, a skill this workspace has not, a version it has not, and any `anthropic` skill: none is
   * published here.
   */
  resolve<E extends SkillEntry>(entries: readonly E[], root = 'skills'): Result<Array<E & { version: string }>> {
    const out: Array<E & { version: string }> = [];
    for (const [i, entry] of entries.entries()) {
      if (entry.type === 'anthropic')
        return fail('invalid_request_error', `${root}[${i}].skill_id: no Anthropic skill '${entry.skill_id}' is available here; only this workspace's custom skills (type 'custom') are`);
      const skill = this.find(entry.skill_id);
      if (!skill) return fail('invalid_request_error', `${root}[${i}].skill_id: no skill '${entry.skill_id}' in this workspace`);
      const wanted = entry.version == null || entry.version === 'latest' ? skill.latest_version_id : entry.version;
      if (!this.findVersion(skill.id, wanted)) return fail('invalid_request_error', `${root}[${i}].version: skill '${skill.id}' has no version '${wanted}'`);
      out.push({ ...entry, version: wanted });
    }
    return ok(out);
  }

  /**
   * The name, description, sandbox path, skill id and version of each custom skill version `entries` pin, in order; an entry whose
   * version is gone (deleted since the agent was saved) or that is not custom is left out.
   */
  summaries(entries: ReadonlyArray<{ type: string; skill_id: string; version: string }>): SkillSummary[] {
    return entries.flatMap((e) => {
      const found = e.type === 'custom' ? this.findVersion(e.skill_id, e.version) : undefined;
      if (!found) return [];
      const { name, description, skill_id, id } = found.version;
      return [{ name, description, path: skillMountPath(name), skill_id, version: id }];
    });
  }

  find(id: string): Skill | undefined {
    return readBody<Skill>(this.sql, TABLE, id);
  }

  private findVersion(skillId: string, version: string): StoredSkillVersion | undefined {
    const row = this.sql
      .exec<{ body: string; files: string }>(`SELECT body, files FROM skill_versions WHERE skill_id = ? AND version = ?`, skillId, version)
      .toArray()[0];
    return row ? { version: deserialise<SkillVersion>(row.body), files: deserialise<SkillFile[]>(row.files) } : undefined;
  }

  private insertVersion(v: StoredSkillVersion): void {
    this.sql.exec(
      `INSERT INTO skill_versions (skill_id, version, body, files) VALUES (?, ?, ?, ?)`,
      v.version.skill_id,
      v.version.id,
      serialise(v.version),
      serialise(v.files),
    );
  }
}
