// The whole output of a call, which the tool runner keeps in the workspace when its result is truncated or the
// call timed out. The runner cannot redact it (the sandbox never knows credential values), so the host does,
// from outside the sandbox, without following links the sandbox may have planted.
import { closeSync, constants, fchownSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { SandboxCredential } from '../credentials.ts';
import { formsFor, type SecretForms, SecretScrubber } from '../secret-scrubber.ts';

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
  const forms = formsFor(credentials);
  if (forms.forms.length === 0 || !/^[A-Za-z0-9_-]+$/.test(key)) return;
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
    const stat = fstatSync(input);
    if (!stat.isFile()) return;
    temp = `.${file}.${randomBytes(6).toString('hex')}.redacting`;
    const output = openSync(at(dir, temp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    opened.push(output);
    // the replacement stays the sandbox's: a root host's file would be unreadable to the sandbox user
    if (process.getuid?.() === 0) fchownSync(output, stat.uid, stat.gid);
    if (!copyRedacted(input, output, forms)) {
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
 * Streams `input` into `output` redacted; whether anything was replaced. The scrubber holds back the tail a spelling
 * could straddle, so a value split across two reads is still found.
 */
function copyRedacted(input: number, output: number, forms: SecretForms): boolean {
  const scrubber = new SecretScrubber(forms);
  const chunk = Buffer.alloc(CHUNK_BYTES);
  const write = (bytes: Uint8Array): void => {
    for (let done = 0; done < bytes.length;) done += writeSync(output, bytes, done);
  };
  for (;;) {
    const read = readSync(input, chunk, 0, chunk.length, null);
    if (read === 0) break;
    // written before the next read reuses `chunk`: the scrubber may hand back a view of it
    write(scrubber.push(chunk.subarray(0, read)));
  }
  write(scrubber.end());
  return scrubber.replaced > 0;
}
