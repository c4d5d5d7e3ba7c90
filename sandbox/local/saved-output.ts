// The whole output of a call, which the tool runner keeps in the workspace when its result is truncated or the
// call timed out. The runner cannot redact it (the sandbox never knows credential values), so the host does,
// from outside the sandbox, without following links the sandbox may have planted.
import { closeSync, constants, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { redact, redactionForms, type SandboxCredential } from '../credentials.ts';

/** Where the runner saves a call's output, relative to the workspace (tool-runner.ts's OUTPUTS_DIR). */
const OUTPUTS_DIR = ['.edgeharness', 'outputs'];
const CHUNK_BYTES = 1 << 20;

/**
 * Replaces credential values in `<workspace>/.edgeharness/outputs/<key>.txt`, if that file exists. Each path
 * step is opened relative to the directory opened before it, refusing symlinks (Linux's /proc/self/fd stands
 * in for openat), so a link the sandbox put in the way cannot send the host's write elsewhere. The file is
 * rewritten through a sibling temp file and a rename, streaming, so a huge output is never held in memory;
 * it is left untouched when nothing in it needed redacting. Best effort: a file that cannot be opened safely
 * is left as it is (its content was in the sandbox already; results are redacted separately).
 */
export function redactSavedOutput(workspace: string, key: string, credentials: readonly SandboxCredential[]): void {
  const forms = redactionForms(credentials);
  if (forms.length === 0 || !/^[A-Za-z0-9_-]+$/.test(key)) return;
  const opened: number[] = [];
  const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;
  let dir = -1;
  let temp: string | undefined;
  try {
    dir = openSync(workspace, constants.O_RDONLY | constants.O_DIRECTORY);
    opened.push(dir);
    for (const name of OUTPUTS_DIR) {
      dir = openSync(at(dir, name), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      opened.push(dir);
    }
    const file = `${key}.txt`;
    // O_NONBLOCK: a FIFO planted under this name must not hang the host
    const input = openSync(at(dir, file), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    opened.push(input);
    if (!fstatSync(input).isFile()) return;
    temp = `.${file}.${randomBytes(6).toString('hex')}.redacting`;
    const output = openSync(at(dir, temp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    opened.push(output);
    if (!copyRedacted(input, output, forms, credentials)) {
      unlinkSync(at(dir, temp));
      return;
    }
    renameSync(at(dir, temp), at(dir, file));
    temp = undefined;
  } catch {
    // absent (the usual case: the output was short) or not safely openable
  } finally {
    if (temp !== undefined) {
      try { unlinkSync(at(dir, temp)); } catch { /* gone already */ }
    }
    for (const fd of opened.reverse()) closeSync(fd);
  }
}

/**
 * Streams `input` into `output` redacted; whether anything was replaced. Text is committed only up to a point
 * no occurrence of a value spans, so a value split across two reads is still found.
 */
function copyRedacted(input: number, output: number, forms: readonly string[], credentials: readonly SandboxCredential[]): boolean {
  const longest = Math.max(...forms.map((f) => f.length));
  const decoder = new StringDecoder('utf8');
  const chunk = Buffer.alloc(CHUNK_BYTES);
  let pending = '';
  let changed = false;
  const emit = (text: string): void => {
    const clean = redact(text, credentials);
    changed ||= clean !== text;
    const bytes = Buffer.from(clean, 'utf8');
    for (let done = 0; done < bytes.length;) done += writeSync(output, bytes, done);
  };
  for (;;) {
    const read = readSync(input, chunk, 0, chunk.length, null);
    if (read === 0) break;
    pending += decoder.write(chunk.subarray(0, read));
    let cut = pending.length - (longest - 1);
    // an occurrence starting before `cut` lies wholly in `pending`; move the cut back to its start
    for (let moved = true; moved && cut > 0;) {
      moved = false;
      for (const form of forms) {
        const start = pending.lastIndexOf(form, cut - 1);
        if (start !== -1 && start + form.length > cut) {
          cut = start;
          moved = true;
        }
      }
    }
    if (cut > 0) {
      emit(pending.slice(0, cut));
      pending = pending.slice(cut);
    }
  }
  emit(pending + decoder.end());
  return changed;
}
