// The container image holds only the files its Dockerfile copies (and its .dockerignore lets through). Building it
// needs Docker, which is not here, so this checks the lists instead: every script the image runs, and every file
// those scripts import, is both copied and let through. A shared helper that one of them starts to import fails here
// rather than on the first deploy.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** The repository paths `COPY a b c dest/` lines name (the last word is the destination). */
function copiedFiles(dockerfile: string): Set<string> {
  const copied = new Set<string>();
  for (const line of dockerfile.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'COPY' || words.some((w) => w.startsWith('--'))) continue;
    for (const source of words.slice(1, -1)) copied.add(source);
  }
  return copied;
}

/** Every file `entry` reaches through relative imports (`import … from './x.ts'`, type-only ones excepted). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of read(file).matchAll(/^import\s+(?!type\b)[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm))
      visit(path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!)));
  };
  visit(entry);
  return seen;
}

it('copies every file the container scripts import, and its .dockerignore lets each through', () => {
  const copied = copiedFiles(read('sandbox/Dockerfile'));
  const allowed = new Set(read('sandbox/Dockerfile.dockerignore').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1)));
  const entries = [...copied].filter((f) => f.endsWith('.ts'));
  expect(entries).toContain('sandbox/cloudflare/container-resources.ts');
  expect(entries).toContain('sandbox/cloudflare/run-one-call.ts');
  for (const entry of entries)
    for (const file of reachable(entry)) {
      expect(copied, `${file} (imported from ${entry}) is not copied into the image`).toContain(file);
      expect(allowed, `${file} (imported from ${entry}) is not let through sandbox/Dockerfile.dockerignore`).toContain(file);
    }
});
