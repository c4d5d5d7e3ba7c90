// An agent's skills placed in its session's sandbox by the local host (sandbox/local/session-files.ts), through the
// Worker's client: each file read-only at `/mnt/skills/<name>/<path>` (and under the workspace's `mnt`), its bytes
// read only when the host lacks them; another version's files replace the old ones, a skill no longer listed goes,
// and a name or path that would leave the skill's directory is refused.
import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SandboxSkill, SandboxSpec } from '../../sandbox/hands.ts';
import { newKey, spec, text, useHost } from './fixture.ts';

/** A skill whose files count how often their bytes are read. */
function skill(name: string, version: string, files: Record<string, string | null>, reads: string[] = []): SandboxSkill {
  return {
    skillId: `skill_${name.replace(/[^a-z0-9]/g, '_')}`,
    version,
    name,
    files: Object.entries(files).map(([p, content]) => ({
      path: p,
      read: async () => {
        reads.push(p);
        return content === null ? null : new TextEncoder().encode(content);
      },
    })),
  };
}

describe('skills in the local sandbox', () => {
  const host = useHost();
  const run = (s: SandboxSpec, command: string) => host.hands.execute(s, { name: 'bash', input: { command }, idempotencyKey: newKey() });

  it('places each file read-only under /mnt/skills/<name>/, owned by the host, reading its bytes only once', async () => {
    const reads: string[] = [];
    const s = { ...spec('sess_skills_ro'), skills: [skill('pdf-forms', '1', { 'SKILL.md': '---\nname: pdf-forms\n---\nbody\n', 'scripts/fill.sh': 'echo filled\n' }, reads)] };
    const read = await run(s, 'cat /mnt/skills/pdf-forms/SKILL.md && sh /mnt/skills/pdf-forms/scripts/fill.sh && cat mnt/skills/pdf-forms/SKILL.md');
    expect(read.fileErrors).toBeUndefined();
    expect(read.isError, text(read)).toBe(false);
    expect(text(read).match(/name: pdf-forms/g)).toHaveLength(2);
    expect(text(read)).toContain('filled');
    expect(reads.sort()).toEqual(['SKILL.md', 'scripts/fill.sh']);

    const placed = path.join(host.workspace('sess_skills_ro'), 'mnt/skills/pdf-forms/scripts/fill.sh');
    expect(lstatSync(placed).mode & 0o777).toBe(0o444);
    expect(lstatSync(placed).uid).toBe(process.getuid!());
    expect(lstatSync(path.dirname(placed)).uid).toBe(process.getuid!());
    for (const attempt of ['echo x > /mnt/skills/pdf-forms/SKILL.md', 'rm -f /mnt/skills/pdf-forms/SKILL.md', 'touch /mnt/skills/pdf-forms/new', 'mv mnt/skills/pdf-forms mnt/skills/other']) {
      expect(text(await run(s, attempt)), attempt).toMatch(/Permission denied|Operation not permitted|Read-only/);
    }
    expect(reads).toHaveLength(2); // placed already: nothing read again
    expect(text(await run(s, 'cat /mnt/skills/pdf-forms/SKILL.md'))).toContain('body');
  });

  it("replaces a skill's files when its version changes, and removes a skill no longer listed", async () => {
    const v1 = skill('notes', '1', { 'SKILL.md': 'v1', 'old.txt': 'only in v1' });
    const other = skill('other-skill', '7', { 'SKILL.md': 'other' });
    const first = { ...spec('sess_skills_change'), skills: [v1, other] };
    expect(text(await run(first, 'cat /mnt/skills/notes/old.txt /mnt/skills/other-skill/SKILL.md'))).toMatch(/only in v1[\s\S]*other/);

    const v2 = skill('notes', '2', { 'SKILL.md': 'v2' });
    const changed = await run({ ...first, skills: [v2] }, 'cat /mnt/skills/notes/SKILL.md; ls /mnt/skills/ /mnt/skills/notes/');
    expect(text(changed)).toContain('v2');
    expect(text(changed)).not.toContain('old.txt');
    expect(text(changed)).not.toContain('other-skill');
    expect(existsSync(path.join(host.workspace('sess_skills_change'), 'mnt/skills/other-skill'))).toBe(false);

    await run({ ...first, skills: [] }, 'true');
    expect(existsSync(path.join(host.workspace('sess_skills_change'), 'mnt/skills'))).toBe(false);
  });

  it('refuses a name or a path that would leave the skill’s directory, once, and places nothing of that skill', async () => {
    const reads: string[] = [];
    const s = {
      ...spec('sess_skills_refused'),
      skills: [
        skill('../escape', '1', { 'SKILL.md': 'x' }, reads),
        skill('dots', '1', { 'SKILL.md': 'x', '../../outside': 'x' }, reads),
        skill('absolute', '1', { 'SKILL.md': 'x', '/etc/x': 'x' }, reads),
        skill('fine', '1', { 'SKILL.md': 'fine', 'gone.txt': null }, reads),
      ],
    };
    const outcome = await run(s, 'ls /mnt/skills/; cat /mnt/skills/fine/SKILL.md');
    expect(text(outcome)).toContain('fine');
    expect(text(outcome)).not.toContain('dots');
    expect(outcome.fileErrors).toEqual([
      { type: 'unknown_error', message: expect.stringContaining('"../escape" is not a kebab-case name') },
      { type: 'unknown_error', message: expect.stringContaining('"../../outside" is not a relative normalised path') },
      { type: 'unknown_error', message: expect.stringContaining('"/etc/x" is not a relative normalised path') },
      { type: 'unknown_error', message: expect.stringContaining('gone.txt are missing') },
    ]);
    expect(reads.sort()).toEqual(['SKILL.md', 'gone.txt']);
    expect(existsSync(path.join(host.workspace('sess_skills_refused'), 'outside'))).toBe(false);
    expect((await run(s, 'true')).fileErrors).toBeUndefined();
  });
});
