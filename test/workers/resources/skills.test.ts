// The skills module queried directly: a skill with its first version, versions added under the same name only,
// newest-first paging, `latest`, deleting versions (never the last) and the skill with all of them.
import { describe, expect, it } from 'vitest';
import { newId } from '../../../contract/ids.ts';
import type { Skill, SkillVersion } from '../../../contract/skill.ts';
import { Skills } from '../../../resources/skills/skills.ts';
import { inWorkspace, refusal, value } from './workspace.ts';

const at = new Date().toISOString();
function skill(id = newId('skill'), latest = 'v1'): Skill {
  return { type: 'skill', id, created_at: at, updated_at: at, display_name: 'd', latest_version_id: latest, source: { type: 'custom' } };
}
function version(skillId: string, id: string, name = 'my-skill'): { version: SkillVersion; files: Array<{ path: string; size: number }> } {
  return { version: { type: 'skill_version', id, skill_id: skillId, created_at: at, name, description: `desc ${id}` }, files: [{ path: 'SKILL.md', size: 10 }] };
}

describe('skills', () => {
  it('stores a skill with its first version; an unknown skill or version is not found', () =>
    inWorkspace('skills_create', (storage) => {
      const skills = new Skills(storage);
      const s = value(skills.create(skill(), version('', 'v1')));
      expect(value(skills.get(s.id))).toEqual(s);
      expect(refusal(skills.get('skill_missing')).type).toBe('not_found_error');
      expect(refusal(skills.getVersion(s.id, 'nope')).type).toBe('not_found_error');
      expect(refusal(skills.create(skill('agent_x'), version('agent_x', 'v1'))).message).toMatch(/^id: expected a skill id/);
    }));

  it('adds versions under the same name, the newest being latest; lists them newest first', () =>
    inWorkspace('skills_versions', (storage) => {
      const skills = new Skills(storage);
      const id = newId('skill');
      skills.create(skill(id), version(id, 'v1'));
      value(skills.addVersion(id, version(id, 'v2')));
      expect(value(skills.get(id)).latest_version_id).toBe('v2');
      expect(value(skills.getVersion(id, 'latest')).version.id).toBe('v2');
      expect(refusal(skills.addVersion(id, version(id, 'v3', 'renamed'))).message).toMatch(/front matter field 'name' is 'renamed'/);
      const first = value(skills.listVersions(id, { limit: 1 }));
      expect(first.data.map((v) => v.id)).toEqual(['v2']);
      expect(value(skills.listVersions(id, { limit: 1, page: first.next_page! })).data.map((v) => v.id)).toEqual(['v1']);
    }));

  it('deletes a version (the newest remaining becomes latest) but never the last; deletes a skill with its versions', () =>
    inWorkspace('skills_delete', (storage) => {
      const skills = new Skills(storage);
      const id = newId('skill');
      skills.create(skill(id), version(id, 'v1'));
      skills.addVersion(id, version(id, 'v2'));
      expect(value(skills.deleteVersion(id, 'v2')).files).toEqual([{ path: 'SKILL.md', size: 10 }]);
      expect(value(skills.get(id)).latest_version_id).toBe('v1');
      expect(refusal(skills.deleteVersion(id, 'v1')).message).toMatch(/^version: 'v1' is the only version/);
      skills.addVersion(id, version(id, 'v3'));
      expect(value(skills.delete(id)).versions.sort()).toEqual(['v1', 'v3']);
      expect(refusal(skills.get(id)).type).toBe('not_found_error');
      expect(value(skills.list({ limit: 10 })).data).toEqual([]);
    }));
});
