// The Skills API through the official SDK: a skill made from a directory with a SKILL.md takes its name and
// description from the front matter, its files land in R2 under the workspace and come back as a zip, versions
// add and delete, another workspace's skill does not exist, and a refused upload names the field and stores nothing.
import Anthropic, { BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { KEY, makeSession, registerKey, say, settle } from './api.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';
import { filesFor, sessionSkills } from '../../worker/brain/files.ts';
import type { Env } from '../../worker/env.ts';

const BASE = 'http://edgeharness.test';
const OTHER_KEY = 'test-key-skills-other';
const sdk = (apiKey = KEY) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });

const skillMd = (name: string, description: string) => `---\nname: ${name}\ndescription: ${description}\n---\n\n# ${name}\n\nRun scripts/run.py.\n`;
const files = (name: string, description = 'Fills PDF forms.', script = 'print("hi")\n') => [
  new File([skillMd(name, description)], `${name}/SKILL.md`, { type: 'text/markdown' }),
  new File([script], `${name}/scripts/run.py`, { type: 'text/x-python' }),
];

async function storedKeys(prefix: string): Promise<string[]> {
  return (await env.FILES.list({ prefix })).objects.map((o) => o.key).sort();
}

/** The entries of a stored (method 0) zip: path → text, read from its local headers. */
function unzip(bytes: Uint8Array): Record<string, string> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, string> = {};
  let at = 0;
  while (view.getUint32(at, true) === 0x04034b50) {
    const size = view.getUint32(at + 18, true);
    const nameLength = view.getUint16(at + 26, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 30, at + 30 + nameLength));
    out[name] = new TextDecoder().decode(bytes.subarray(at + 30 + nameLength, at + 30 + nameLength + size));
    at += 30 + nameLength + size;
  }
  return out;
}

async function postForm(form: FormData, path = '/v1/skills') {
  const res = await SELF.fetch(`${BASE}${path}`, { method: 'POST', body: form, headers: { 'x-api-key': KEY } });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(() => registerKey(OTHER_KEY, 'wrkspc_skills_other'));

describe('skills', () => {
  it('creates a skill from a SKILL.md and a script: name and description from the front matter, files in R2', async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('pdf-forms') });
    expect(skill).toMatchObject({ type: 'skill', display_name: 'pdf-forms', source: { type: 'custom' } });
    expect(skill.id).toMatch(/^skill_[0-9A-Za-z]{24}$/);
    expect(await client.beta.skills.retrieve(skill.id)).toEqual(skill);
    const version = await client.beta.skills.versions.retrieve(skill.latest_version_id, { skill_id: skill.id });
    expect(version).toMatchObject({ type: 'skill_version', id: skill.latest_version_id, skill_id: skill.id, name: 'pdf-forms', description: 'Fills PDF forms.' });
    expect(await storedKeys(`wrkspc_default/skills/${skill.id}/`)).toEqual([
      `wrkspc_default/skills/${skill.id}/${version.id}/SKILL.md`,
      `wrkspc_default/skills/${skill.id}/${version.id}/scripts/run.py`,
    ]);
  });

  it('downloads a version as a zip whose top-level directory is the skill name', async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('zipped') });
    const res = await client.beta.skills.versions.download(skill.latest_version_id, { skill_id: skill.id });
    expect(res.headers.get('content-type')).toBe('application/zip');
    const entries = unzip(new Uint8Array(await res.arrayBuffer()));
    expect(entries).toEqual({ 'zipped/SKILL.md': skillMd('zipped', 'Fills PDF forms.'), 'zipped/scripts/run.py': 'print("hi")\n' });
  });

  it('takes a display_name; lists skills newest first a page at a time', async () => {
    const client = sdk();
    const a = await client.beta.skills.create({ files: files('list-a'), display_name: 'List A' });
    expect(a.display_name).toBe('List A');
    const b = await client.beta.skills.create({ files: files('list-b') });
    const first = await client.beta.skills.list({ limit: 1 });
    expect(first.data.map((s) => s.id)).toEqual([b.id]);
    const seen: string[] = [];
    for await (const s of client.beta.skills.list({ limit: 1 })) seen.push(s.id);
    expect(seen.indexOf(b.id)).toBeLessThan(seen.indexOf(a.id));
    expect((await client.beta.skills.list({ source: 'anthropic' })).data).toEqual([]);
  });

  it('adds a version that becomes the latest; lists, deletes a version, refuses to delete the last one', async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('versioned', 'First.') });
    const v2 = await client.beta.skills.versions.create(skill.id, { files: files('versioned', 'Second.', 'print(2)\n') });
    expect(v2).toMatchObject({ skill_id: skill.id, name: 'versioned', description: 'Second.' });
    expect((await client.beta.skills.retrieve(skill.id)).latest_version_id).toBe(v2.id);
    const listed: string[] = [];
    for await (const v of client.beta.skills.versions.list(skill.id, { limit: 1 })) listed.push(v.id);
    expect(listed).toEqual([v2.id, skill.latest_version_id]);

    expect(await client.beta.skills.versions.delete(v2.id, { skill_id: skill.id })).toEqual({ id: v2.id, type: 'skill_version_deleted' });
    expect((await client.beta.skills.retrieve(skill.id)).latest_version_id).toBe(skill.latest_version_id);
    expect(await storedKeys(`wrkspc_default/skills/${skill.id}/${v2.id}/`)).toEqual([]);
    await expect(client.beta.skills.versions.retrieve(v2.id, { skill_id: skill.id })).rejects.toBeInstanceOf(NotFoundError);
    const last = await client.beta.skills.versions.delete(skill.latest_version_id, { skill_id: skill.id }).catch((e: unknown) => e);
    expect(last).toBeInstanceOf(BadRequestError);
    expect((last as BadRequestError).message).toMatch(/version: .* is the only version/);
  });

  it("refuses a version whose front matter names another skill, storing nothing", async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('fixed-name') });
    const err = await client.beta.skills.versions.create(skill.id, { files: files('other-name') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).message).toMatch(/SKILL.md: front matter field 'name' is 'other-name'/);
    expect((await storedKeys(`wrkspc_default/skills/${skill.id}/`)).length).toBe(2);
  });

  it('deletes a skill with its versions and their files', async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('doomed') });
    await client.beta.skills.versions.create(skill.id, { files: files('doomed') });
    expect(await client.beta.skills.delete(skill.id)).toEqual({ id: skill.id, type: 'skill_deleted' });
    await expect(client.beta.skills.retrieve(skill.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await storedKeys(`wrkspc_default/skills/${skill.id}/`)).toEqual([]);
  });

  it("does not find another workspace's skill, its versions or its content", async () => {
    const skill = await sdk().beta.skills.create({ files: files('private') });
    const other = sdk(OTHER_KEY);
    await expect(other.beta.skills.retrieve(skill.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.skills.versions.retrieve(skill.latest_version_id, { skill_id: skill.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.skills.versions.download(skill.latest_version_id, { skill_id: skill.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.skills.delete(skill.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await other.beta.skills.list()).data.map((s) => s.id)).not.toContain(skill.id);
    expect(await sdk().beta.skills.retrieve(skill.id)).toMatchObject({ id: skill.id });
  });

  it('refuses bad uploads naming the field, and stores nothing', async () => {
    const before = await storedKeys('wrkspc_default/skills/');
    const cases: Array<[File[], RegExp]> = [
      [[new File(['x'], 'nomd/run.py')], /^files: a SKILL.md is required/],
      [[new File(['no front matter'], 'x/SKILL.md')], /^SKILL.md: expected YAML front matter/],
      [[new File(['---\ndescription: d\n---\n'], 'x/SKILL.md')], /^SKILL.md: front matter field 'name' is missing/],
      [[new File(['---\nname: ok-name\n---\n'], 'x/SKILL.md')], /^SKILL.md: front matter field 'description' is missing/],
      [[new File(['---\nname: Not Kebab\ndescription: d\n---\n'], 'x/SKILL.md')], /^SKILL.md: front matter field 'name' must be kebab-case/],
      [[new File([skillMd('a', 'd')], 'x/SKILL.md'), new File(['y'], '../etc/passwd')], /^files: '..\/etc\/passwd' is not a relative path/],
    ];
    for (const [fs, message] of cases) {
      const form = new FormData();
      for (const f of fs) form.append('files[]', f, f.name);
      const { status, body } = await postForm(form);
      expect(status).toBe(400);
      expect(body.error.message).toMatch(message);
    }
    const unknown = new FormData();
    unknown.append('files[]', new File([skillMd('a', 'd')], 'a/SKILL.md'), 'a/SKILL.md');
    unknown.append('colour', 'red');
    expect((await postForm(unknown)).body.error.message).toMatch(/^unknown field 'colour'/);
    const empty = new FormData();
    empty.append('display_name', 'nothing');
    expect((await postForm(empty)).body.error.message).toMatch(/^files: at least one file/);
    expect(await storedKeys('wrkspc_default/skills/')).toEqual(before);
  });

  it('refuses an upload over 8 MB in all, or over 200 files, naming files, and stores nothing', async () => {
    const before = await storedKeys('wrkspc_default/skills/');
    const withSkillMd = (extra: File[]) => {
      const form = new FormData();
      form.append('files[]', new File([skillMd('big', 'd')], 'big/SKILL.md'), 'big/SKILL.md');
      for (const f of extra) form.append('files[]', f, f.name);
      return form;
    };
    // just over the limit together (each file under it), and far over it
    const halves = [new File([new Uint8Array(4_000_001)], 'big/a.bin'), new File([new Uint8Array(4_000_001)], 'big/b.bin')];
    for (const form of [withSkillMd(halves), withSkillMd([new File([new Uint8Array(9_000_000)], 'big/c.bin')])]) {
      const { status, body } = await postForm(form);
      expect(status).toBe(413);
      expect(body.error.message).toMatch(/^files: .*8000000 bytes/);
    }
    const many = withSkillMd(Array.from({ length: 200 }, (_, i) => new File(['x'], `big/f${i}.txt`)));
    const refused = await postForm(many);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('files: at most 200 files per upload');
    expect(await storedKeys('wrkspc_default/skills/')).toEqual(before);
  });

  it('refuses a display_name that is not one non-empty line of at most 255 characters, and stores nothing', async () => {
    const before = await storedKeys('wrkspc_default/skills/');
    const listed = (await sdk().beta.skills.list()).data.length;
    for (const displayName of ['x'.repeat(256), 'two\nlines', '   ']) {
      const form = new FormData();
      form.append('files[]', new File([skillMd('named', 'd')], 'named/SKILL.md'), 'named/SKILL.md');
      form.append('display_name', displayName);
      const { status, body } = await postForm(form);
      expect(status, displayName).toBe(400);
      expect(body.error.message).toBe('display_name: a single non-empty line of at most 255 characters');
    }
    const exactly = await sdk().beta.skills.create({ files: files('named'), display_name: 'y'.repeat(255) });
    expect(exactly.display_name).toBe('y'.repeat(255));
    expect((await sdk().beta.skills.list()).data.length).toBe(listed + 1);
    expect((await storedKeys('wrkspc_default/skills/')).filter((k) => !before.includes(k)).every((k) => k.startsWith(`wrkspc_default/skills/${exactly.id}/`))).toBe(true);
  });
});

describe("agents' skills", () => {
  const agent = (skills: unknown[]) => ({ name: 'a', model: 'claude-sonnet-4-5', skills }) as Parameters<Anthropic['beta']['agents']['create']>[0];

  it('pins a custom skill named without a version to its latest version when the agent is saved; keeps a pinned one', async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('pinned') });
    const v2 = await client.beta.skills.versions.create(skill.id, { files: files('pinned', 'Newer.') });
    const saved = await client.beta.agents.create(agent([{ type: 'custom', skill_id: skill.id }, { type: 'custom', skill_id: skill.id, version: skill.latest_version_id }]));
    expect(saved.skills).toEqual([
      { type: 'custom', skill_id: skill.id, version: v2.id },
      { type: 'custom', skill_id: skill.id, version: skill.latest_version_id },
    ]);
    const updated = await client.beta.agents.update(saved.id, { version: saved.version, skills: [{ type: 'custom', skill_id: skill.id, version: 'latest' }] });
    expect(updated.skills).toEqual([{ type: 'custom', skill_id: skill.id, version: v2.id }]);
  });

  it("refuses an unknown skill, another workspace's, an unknown version and an Anthropic skill, naming the field", async () => {
    const client = sdk();
    const theirs = await sdk(OTHER_KEY).beta.skills.create({ files: files('theirs') });
    const mine = await client.beta.skills.create({ files: files('mine') });
    const cases: Array<[unknown[], RegExp]> = [
      [[{ type: 'custom', skill_id: 'skill_nope' }], /skills\[0\]\.skill_id: no skill 'skill_nope' in this workspace/],
      [[{ type: 'custom', skill_id: mine.id }, { type: 'custom', skill_id: theirs.id }], /skills\[1\]\.skill_id: no skill/],
      [[{ type: 'custom', skill_id: mine.id, version: '123' }], /skills\[0\]\.version: skill .* has no version '123'/],
      [[{ type: 'anthropic', skill_id: 'xlsx' }], /skills\[0\]\.skill_id: no Anthropic skill 'xlsx' is available here/],
    ];
    for (const [skills, message] of cases) {
      const err = await client.beta.agents.create(agent(skills)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).message).toMatch(message);
    }
  });
});

describe('skills in the system prompt', () => {
  /** The request bodies the scripted model received whose messages mention `marker`. */
  async function modelRequestsWith(marker: string): Promise<any[]> {
    const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
    return recorded.data.map((r: any) => r.body).filter((b: any) => JSON.stringify(b.messages).includes(marker));
  }

  it("lists each of the agent's skills by name and description, with where its SKILL.md is, after the agent's system", async () => {
    const skill = await sdk().beta.skills.create({ files: files('prompted', 'Answers in haiku when asked for poems.') });
    const { sessionId } = await makeSession(KEY, { skills: [{ type: 'custom', skill_id: skill.id }] });
    const marker = `write a poem, ${sessionId}`;
    expect((await say(sessionId, marker)).status).toBe(200);
    await settle(sessionId);
    const [request] = await modelRequestsWith(marker);
    const system = request.system.map((b: any) => b.text);
    expect(system[0]).toBe('You are terse.');
    expect(system[1]).toContain('- prompted: Answers in haiku when asked for poems. (/mnt/skills/prompted/SKILL.md)');
    // Progressive disclosure: the body of SKILL.md is not in the prompt.
    expect(JSON.stringify(request)).not.toContain('Run scripts/run.py.');
    // The list comes from the session's spec: the next turn's system prompt is the same bytes, so the cache holds.
    const next = `another poem, ${sessionId}`;
    await say(sessionId, next);
    await settle(sessionId);
    const [second] = await modelRequestsWith(next);
    expect(JSON.stringify(second.system)).toBe(JSON.stringify(request.system));
  });

  it("hands the sandbox each pinned version's files, read from R2 only when asked; none of an old spec or a deleted version", async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('placeable', 'Placed.', 'print("placed")\n') });
    const first = skill.latest_version_id;
    const [summary] = await workspaceStore(env, 'wrkspc_default').skillSummaries([{ type: 'custom', skill_id: skill.id, version: first }]);
    expect(summary).toEqual({ name: 'placeable', description: 'Placed.', path: '/mnt/skills/placeable/', skill_id: skill.id, version: first });
    // a spec stored before skills were placed lists a skill without its id and version
    const stored = { name: 'older', description: 'd', path: '/mnt/skills/older/' };
    const spec = { workspaceId: 'wrkspc_default', skills: [summary!, stored] } as SessionSpec;
    const given = await sessionSkills(filesFor(env as unknown as Env), spec);
    expect(given.map((g) => ({ skillId: g.skillId, version: g.version, name: g.name, paths: g.files.map((f) => f.path).sort() }))).toEqual([
      { skillId: skill.id, version: first, name: 'placeable', paths: ['SKILL.md', 'scripts/run.py'] },
    ]);
    const script = await given[0]!.files.find((f) => f.path === 'scripts/run.py')!.read();
    expect(new TextDecoder().decode(script!)).toBe('print("placed")\n');

    await client.beta.skills.versions.create(skill.id, { files: files('placeable', 'Newer.') });
    await client.beta.skills.versions.delete(first, { skill_id: skill.id });
    expect(await sessionSkills(filesFor(env as unknown as Env), spec)).toEqual([]);
  });

  it('adds no skills block to an agent without skills', async () => {
    const { sessionId } = await makeSession();
    const marker = `no skills, ${sessionId}`;
    await say(sessionId, marker);
    await settle(sessionId);
    const [request] = await modelRequestsWith(marker);
    expect(request.system.map((b: any) => b.text)).toEqual(['You are terse.']);
  });

  it("pins an override's custom skill at session create, and refuses an unknown one naming agent.skills[i].skill_id", async () => {
    const client = sdk();
    const skill = await client.beta.skills.create({ files: files('overridden') });
    const agent = await client.beta.agents.create({ name: 'o', model: 'claude-sonnet-4-5' });
    const environment = await client.beta.environments.create({ name: 'env' });
    const session = await client.beta.sessions.create({
      agent: { type: 'agent_with_overrides', id: agent.id, skills: [{ type: 'custom', skill_id: skill.id }] },
      environment_id: environment.id,
    } as any);
    expect(session.agent.skills).toEqual([{ type: 'custom', skill_id: skill.id, version: skill.latest_version_id }]);
    const err = await client.beta.sessions
      .create({ agent: { type: 'agent_with_overrides', id: agent.id, skills: [{ type: 'custom', skill_id: 'skill_missing' }] }, environment_id: environment.id } as any)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).message).toMatch(/agent\.skills\[0\]\.skill_id: no skill 'skill_missing'/);
  });
});
