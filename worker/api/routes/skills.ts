// /v1/skills and /v1/skills/:id/versions: create a skill (or a version) from uploaded files with a SKILL.md, list,
// retrieve, delete, and download a version as a zip. Each version's files are in the FILES bucket under
// `<workspace>/skills/<skill id>/<version>/<path>`, the metadata in the workspace's store: another workspace's
// skill is simply not found. An upload is read whole and checked before anything is stored (MAX_SKILL_BYTES).
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest, tooLarge } from '../errors.ts';
import { formBoundary, formParts } from '../multipart.ts';
import { parseQuery, unwrap, workspace } from '../http.ts';
import { zipStored } from '../zip.ts';
import { newId } from '../../../contract/ids.ts';
import type { Result } from '../../../contract/result.ts';
import {
  MAX_DISPLAY_NAME,
  MAX_SKILL_BYTES,
  MAX_SKILL_FILES,
  skillFileKey,
  skillFrontMatter,
  skillLayout,
  SkillListQuery,
  skillPrefix,
  VersionListQuery,
  type Skill,
  type SkillVersion,
} from '../../../contract/skill.ts';

interface Upload {
  files: Array<{ path: string; bytes: Uint8Array }>;
  name: string;
  description: string;
  displayName: string | null;
}

export const skills = new Hono<AppEnv>()
  .post('/', async (c) => {
    const upload = await readUpload(c, true);
    const now = new Date().toISOString();
    const skillId = newId('skill');
    const version = versionOf(skillId, upload, now);
    await storeFiles(c, skillId, version.id, upload);
    const skill: Skill = {
      type: 'skill',
      id: skillId,
      created_at: now,
      updated_at: now,
      display_name: upload.displayName ?? upload.name,
      latest_version_id: version.id,
      source: { type: 'custom' },
    };
    return c.json(await recordOrRemove(c, skillId, version.id, upload, () => workspace(c).createSkill(skill, { version, files: sizes(upload) })));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, SkillListQuery);
    // Only custom skills are kept here; none of Anthropic's is (docs/skills.md).
    if (q.source === 'anthropic') return c.json({ data: [], next_page: null });
    return c.json(unwrap(await workspace(c).listSkills({ limit: q.limit ?? 20, page: q.page })));
  })
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getSkill(c.req.param('id')))))
  .delete('/:id', async (c) => {
    // Metadata first: a failure between the two leaves unreachable bytes, never a version whose bytes are gone.
    const { deleted } = unwrap(await workspace(c).deleteSkill(c.req.param('id')));
    await removePrefix(c.env.FILES, skillPrefix(c.get('workspaceId'), deleted.id));
    return c.json(deleted);
  })
  .post('/:id/versions', async (c) => {
    const skillId = c.req.param('id');
    unwrap(await workspace(c).getSkill(skillId));
    const upload = await readUpload(c, false);
    const version = versionOf(skillId, upload, new Date().toISOString());
    await storeFiles(c, skillId, version.id, upload);
    return c.json(await recordOrRemove(c, skillId, version.id, upload, () => workspace(c).addSkillVersion(skillId, { version, files: sizes(upload) })));
  })
  .get('/:id/versions', async (c) => {
    const q = parseQuery(c, VersionListQuery);
    return c.json(unwrap(await workspace(c).listSkillVersions(c.req.param('id'), { limit: q.limit ?? 20, page: q.page })));
  })
  .get('/:id/versions/:version', async (c) =>
    c.json(unwrap(await workspace(c).getSkillVersion(c.req.param('id'), c.req.param('version'))).version),
  )
  .get('/:id/versions/:version/content', async (c) => {
    const { version, files } = unwrap(await workspace(c).getSkillVersion(c.req.param('id'), c.req.param('version')));
    const entries: Array<{ path: string; bytes: Uint8Array }> = [];
    for (const f of files) {
      const object = await c.env.FILES.get(skillFileKey(c.get('workspaceId'), version.skill_id, version.id, f.path));
      if (!object) throw new Error(`skill ${version.skill_id} version ${version.id}: the bytes of '${f.path}' are missing`);
      // The archive's top-level directory is the skill's name, as BetaSkillVersion.name states.
      entries.push({ path: `${version.name}/${f.path}`, bytes: new Uint8Array(await object.arrayBuffer()) });
    }
    const zip = zipStored(entries);
    return new Response(zip, {
      headers: {
        'content-type': 'application/zip',
        'content-length': String(zip.length),
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(`${version.name}.zip`)}`,
      },
    });
  })
  .delete('/:id/versions/:version', async (c) => {
    const skillId = c.req.param('id');
    const { deleted, files } = unwrap(await workspace(c).deleteSkillVersion(skillId, c.req.param('version')));
    const keys = files.map((f) => skillFileKey(c.get('workspaceId'), skillId, deleted.id, f.path));
    if (keys.length > 0) await c.env.FILES.delete(keys);
    return c.json(deleted);
  });

/**
 * The upload's `files[]` parts (and, for a new skill, `display_name`), read whole within MAX_SKILL_BYTES and
 * checked: one directory with a SKILL.md whose front matter names the skill. Refusals name the field.
 */
async function readUpload(c: Context<AppEnv>, allowDisplayName: boolean): Promise<Upload> {
  const declared = Number(c.req.header('content-length'));
  if (declared > MAX_SKILL_BYTES + 64 * 1024) throw tooLarge(`files: request body is ${declared} bytes; a skill's files may be at most ${MAX_SKILL_BYTES} bytes together`);
  const boundary = formBoundary(c.req.header('content-type'));
  const raw: Array<{ path: string; bytes: Uint8Array }> = [];
  let displayName: string | null = null;
  let total = 0;
  for await (const part of formParts(c.req.raw.body, boundary)) {
    if (part.name === 'files[]' || part.name === 'files') {
      if (raw.length >= MAX_SKILL_FILES) throw invalidRequest(`files: at most ${MAX_SKILL_FILES} files per upload`);
      const chunks: Uint8Array[] = [];
      for await (const chunk of part.body) {
        total += chunk.length;
        if (total > MAX_SKILL_BYTES) throw tooLarge(`files: larger together than the limit of ${MAX_SKILL_BYTES} bytes`);
        chunks.push(chunk);
      }
      if (!part.filename) throw invalidRequest(`files[${raw.length}]: a file part needs a filename (its path in the skill's directory)`);
      raw.push({ path: part.filename, bytes: concat(chunks) });
    } else if (part.name === 'display_name' && allowDisplayName) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of part.body) {
        chunks.push(chunk);
        if (chunks.reduce((n, x) => n + x.length, 0) > 4 * MAX_DISPLAY_NAME) throw invalidRequest(`display_name: at most ${MAX_DISPLAY_NAME} characters`);
      }
      displayName = new TextDecoder().decode(concat(chunks));
      if (displayName.length > MAX_DISPLAY_NAME || /[\r\n]/.test(displayName) || displayName.trim() === '')
        throw invalidRequest(`display_name: a single non-empty line of at most ${MAX_DISPLAY_NAME} characters`);
    } else {
      throw invalidRequest(`unknown field '${part.name.slice(0, 64)}': an upload takes 'files'${allowDisplayName ? " and optionally 'display_name'" : ''}`);
    }
  }
  const layout = skillLayout(raw.map((f) => f.path));
  if (!layout.ok) throw invalidRequest(layout.message);
  const files = raw.map((f, i) => ({ path: layout.value.paths[i]!, bytes: f.bytes }));
  const skillMd = files.find((f) => f.path === 'SKILL.md')!;
  const front = skillFrontMatter(new TextDecoder().decode(skillMd.bytes));
  if (!front.ok) throw invalidRequest(front.message);
  return { files, name: front.value.name, description: front.value.description, displayName };
}

/**
 * A version's id: decimal digits that start with the creation time, as the official ids look, then six random
 * digits. Two uploads to one skill in the same millisecond must not share an id: the second would write over the
 * first's files before its store refused it.
 */
function versionOf(skillId: string, upload: Upload, createdAt: string): SkillVersion {
  const id = `${Date.now()}${String(crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000).padStart(6, '0')}`;
  return { type: 'skill_version', id, skill_id: skillId, created_at: createdAt, name: upload.name, description: upload.description };
}

async function storeFiles(c: Context<AppEnv>, skillId: string, version: string, upload: Upload): Promise<void> {
  for (const f of upload.files) await c.env.FILES.put(skillFileKey(c.get('workspaceId'), skillId, version, f.path), f.bytes);
}

/** Records the metadata; when the store refuses (or the call fails), the bytes just stored are removed. */
async function recordOrRemove<T>(c: Context<AppEnv>, skillId: string, version: string, upload: Upload, record: () => Promise<Result<T>>): Promise<T> {
  try {
    return unwrap(await record());
  } catch (err) {
    const keys = upload.files.map((f) => skillFileKey(c.get('workspaceId'), skillId, version, f.path));
    await c.env.FILES.delete(keys).catch((e: unknown) => console.error(`could not remove the files of refused skill upload ${skillId}/${version}`, e));
    throw err;
  }
}

const sizes = (upload: Upload) => upload.files.map((f) => ({ path: f.path, size: f.bytes.length }));

async function removePrefix(bucket: R2Bucket, prefix: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const listed = await bucket.list({ prefix, cursor });
    if (listed.objects.length > 0) await bucket.delete(listed.objects.map((o) => o.key));
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of chunks) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}
