// A `user.define_outcome` whose rubric names a file: the file must be a text file in the caller's workspace, and
// the rubric is resolved to its text as the event is accepted (official: "File rubrics are currently resolved to
// their text content"), so the log, the grader and every client read the same rubric whatever becomes of the file.
import type { Context } from 'hono';
import type { AppEnv } from './app-env.ts';
import { invalidRequest } from './errors.ts';
import { workspace } from './http.ts';
import type { EventParams } from '../../contract/event.ts';
import { fileObjectKey } from '../../contract/file.ts';
import { MAX_RUBRIC_CHARS } from '../../contract/outcome.ts';

/** UTF-8 takes at most 4 bytes a character: a larger file cannot be a rubric within the limit, and is not read. */
const MAX_RUBRIC_BYTES = MAX_RUBRIC_CHARS * 4;

/** `sent` with each file rubric replaced by the file's text; the first unusable one is a 400 naming its path. */
export async function resolveRubrics<E extends EventParams>(c: Context<AppEnv>, sent: readonly E[], root = 'events'): Promise<E[]> {
  return Promise.all(
    sent.map(async (ev, i) => {
      if (ev.type !== 'user.define_outcome' || ev.rubric.type !== 'file') return ev;
      const content = await rubricText(c, ev.rubric.file_id, `${root}[${i}].rubric.file_id`);
      return { ...ev, rubric: { type: 'text', content } };
    }),
  );
}

async function rubricText(c: Context<AppEnv>, fileId: string, path: string): Promise<string> {
  const found = await workspace(c).getFile(fileId);
  if (!found.ok) throw invalidRequest(`${path}: no file '${fileId}' in this workspace`);
  const file = found.value;
  if (!file.mime_type.startsWith('text/')) throw invalidRequest(`${path}: file '${file.id}' is ${file.mime_type}; a rubric is a text file (markdown or plain text)`);
  if (file.size_bytes > MAX_RUBRIC_BYTES) throw invalidRequest(`${path}: file '${file.id}' is ${file.size_bytes} bytes; a rubric may be at most ${MAX_RUBRIC_CHARS} characters`);
  const object = await c.env.FILES.get(fileObjectKey(c.get('workspaceId'), file.id));
  if (!object) throw invalidRequest(`${path}: file '${file.id}' has no content yet`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(await object.arrayBuffer());
  } catch {
    throw invalidRequest(`${path}: file '${file.id}' is not valid UTF-8 text`);
  }
  if (!text.trim()) throw invalidRequest(`${path}: file '${file.id}' is empty; a rubric needs criteria to grade against`);
  if (text.length > MAX_RUBRIC_CHARS) throw invalidRequest(`${path}: file '${file.id}' holds ${text.length} characters; a rubric may be at most ${MAX_RUBRIC_CHARS}`);
  return text;
}
