// The layers point one way (docs/design.md, "Layout"): every relative import in the runtime's source is checked
// against what its folder may import. A new import that crosses a layer the wrong way fails here, naming the file.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Rule {
  /** Where the importing file lives. The first rule whose prefix matches a file applies to it. */
  from: string;
  /** What it may import, besides its own folder: path prefixes (a folder ends in `/`). */
  may: string[];
  /** Of those, what it may import only with `import type` (nothing of it runs here). */
  typesOnly?: string[];
}

// The hands' pure modules, which the contract validates against: they import only within sandbox/ (rule below).
const SANDBOX_PURE = ['sandbox/egress-policy.ts', 'sandbox/credentials.ts', 'sandbox/hands.ts'];

const RULES: Rule[] = [
  { from: 'contract/', may: SANDBOX_PURE },
  { from: 'vault/', may: [] },
  { from: 'scripted-model/', may: [] },
  // The Cloudflare provider lives on Workers: it reaches the vault through the workspace's Durable Object.
  { from: 'sandbox/cloudflare/', may: ['sandbox/', 'durable-objects/stubs.ts'], typesOnly: ['worker/env.ts'] },
  { from: 'sandbox/', may: ['sandbox/'] },
  { from: 'resources/', may: ['contract/', 'vault/', 'sandbox/credentials.ts'] },
  { from: 'durable-objects/', may: ['resources/', 'contract/', 'vault/', 'sandbox/credentials.ts'], typesOnly: ['worker/env.ts'] },
  {
    from: 'worker/brain/',
    may: ['contract/', 'sandbox/', 'durable-objects/stubs.ts'],
    typesOnly: ['durable-objects/session-log.ts', 'worker/env.ts'],
  },
  { from: 'worker/api/', may: ['contract/', 'sandbox/', 'durable-objects/stubs.ts', 'worker/env.ts'] },
  // The composition root: the Worker's entry and its bindings name every part.
  { from: 'worker/index.ts', may: [''] },
  { from: 'worker/env.ts', may: [''] },
  { from: 'scripts/', may: ['sandbox/toolset/'] },
  // The eval runner drives a runtime from outside: it starts one (scripts/) and reads the API's shapes and prices.
  { from: 'eval/', may: ['scripts/runtime.ts', 'contract/'] },
];

const OWN_FOLDER: Record<string, string> = { 'worker/index.ts': 'worker/', 'worker/env.ts': 'worker/' };

function sourceFiles(): string[] {
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: ROOT, encoding: 'utf8' });
  return tracked
    .split('\n')
    .filter((f) => f.includes('/') && !f.startsWith('test/') && !f.startsWith('bench/'));
}

interface Import {
  target: string;
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const src = readFileSync(path.join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    found.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), m[3]!)), typeOnly: Boolean(m[2]) });
  }
  for (const m of src.matchAll(/import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    found.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!)), typeOnly: false });
  }
  return found;
}

const under = (file: string, prefix: string) => (prefix.endsWith('/') || prefix === '' ? file.startsWith(prefix) : file === prefix);

/** Why `file` may not import `imp`, or null when it may. */
function violation(file: string, imp: Import): string | null {
  const rule = RULES.find((r) => under(file, r.from));
  if (!rule) return null;
  const own = OWN_FOLDER[rule.from] ?? rule.from;
  if (own.endsWith('/') && imp.target.startsWith(own) && !(own === 'worker/' && crossesWorker(file, imp.target))) return null;
  if (rule.may.some((p) => under(imp.target, p))) return null;
  if (rule.typesOnly?.some((p) => under(imp.target, p))) return imp.typeOnly ? null : `${file} may import only types from ${imp.target}`;
  return `${file} imports ${imp.target}, which ${rule.from} may not import`;
}

/** worker/api and worker/brain are separate layers although both live under worker/. */
function crossesWorker(file: string, target: string): boolean {
  const part = (f: string) => f.split('/')[1];
  return file.split('/').length > 2 && target.split('/').length > 2 && part(file) !== part(target);
}

describe('layers', () => {
  const files = sourceFiles();

  it('finds the source to check', () => {
    for (const folder of ['contract/', 'resources/', 'durable-objects/', 'worker/api/', 'worker/brain/', 'sandbox/']) {
      expect(files.some((f) => f.startsWith(folder)), folder).toBe(true);
    }
  });

  it('every import points the way the layers allow', () => {
    const problems = files.flatMap((file) => importsOf(file).map((imp) => violation(file, imp)).filter((v): v is string => v !== null));
    expect(problems).toEqual([]);
  });

  it('catches an import the wrong way', () => {
    expect(violation('durable-objects/session-log.ts', { target: 'worker/api/http.ts', typeOnly: false })).toMatch(/may not import/);
    expect(violation('worker/api/routes/sessions.ts', { target: 'worker/brain/step.ts', typeOnly: false })).toMatch(/may not import/);
    expect(violation('worker/api/http.ts', { target: 'resources/agents/agents.ts', typeOnly: false })).toMatch(/may not import/);
    expect(violation('contract/agent.ts', { target: 'resources/shared/rows.ts', typeOnly: false })).toMatch(/may not import/);
    expect(violation('worker/brain/budget.ts', { target: 'durable-objects/session-log.ts', typeOnly: false })).toMatch(/only types/);
    expect(violation('worker/brain/budget.ts', { target: 'durable-objects/session-log.ts', typeOnly: true })).toBeNull();
    expect(violation('eval/runner.ts', { target: 'worker/brain/step.ts', typeOnly: false })).toMatch(/may not import/);
  });
});

describe('the layout tables match the tree', () => {
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.includes('/') && !f.startsWith('.'));
  const topFolders = [...new Set(tracked.map((f) => `${f.split('/')[0]}/`))].sort();
  const resourceFolders = [...new Set(tracked.filter((f) => f.startsWith('resources/')).map((f) => `${f.split('/')[1]}/`))].sort();
  /** The first column of the table under `heading`, as the paths it names. */
  const firstColumn = (doc: string, heading: string): string[] => {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    const section = text.slice(text.indexOf(heading)).split('\n## ')[0]!;
    return section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
  };

  it("README's layout table names every top-level folder, and only those", () => {
    expect(firstColumn('README.md', '## Layout').sort()).toEqual(topFolders);
  });

  it("docs/design.md's layout table names every source folder, and each one it names exists", () => {
    const named = firstColumn('docs/design.md', '## Layout');
    for (const entry of named) expect(tracked.some((f) => f === entry || f.startsWith(entry.replace('<name>/', ''))), entry).toBe(true);
    for (const folder of topFolders.filter((f) => f !== 'docs/')) expect(named.some((n) => n.startsWith(folder)), folder).toBe(true);
  });

  it('the README lists every resource folder', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const row = readme.split('\n').find((line) => line.startsWith('| `resources/` |'))!;
    for (const folder of resourceFolders) expect(row, folder).toContain(`\`${folder}\``);
  });
});
