// The committed install: `npm ci` on a fresh clone, on macOS, Windows or Linux, arm64 or x64, finds every
// package it needs in package-lock.json, and runs only the install scripts package.json's allowScripts lists.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface LockedPackage {
  version?: string;
  os?: string[];
  cpu?: string[];
  optional?: boolean;
  hasInstallScript?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
const packages = lock.packages;

/** The locked package Node would load for `name` required from `from` (a lock key; '' is the project). */
function resolve(from: string, name: string): string | null {
  for (let dir = from; ; ) {
    const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return null;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** The package name a lock key holds: `node_modules/a/node_modules/@s/b` → `@s/b`. */
const nameOf = (key: string) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
const locked = (name: string) => Object.keys(packages).filter((key) => key !== '' && nameOf(key) === name);

describe('package-lock.json', () => {
  it('locks every dependency of every locked package, the other platforms\' optional builds included', () => {
    const missing: string[] = [];
    for (const [key, pkg] of Object.entries(packages)) {
      const required = { ...pkg.dependencies, ...pkg.optionalDependencies };
      for (const name of Object.keys(pkg.peerDependencies ?? {})) if (!pkg.peerDependenciesMeta?.[name]?.optional) required[name] = '';
      for (const name of Object.keys(required)) if (!resolve(key, name)) missing.push(`${key || '(project)'} → ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it.each([
    // workerd publishes no Windows arm64 build.
    ['workerd', ['darwin/arm64', 'darwin/x64', 'linux/arm64', 'linux/x64', 'win32/x64']],
    ['esbuild', ['darwin/arm64', 'darwin/x64', 'linux/arm64', 'linux/x64', 'win32/arm64', 'win32/x64']],
  ])('locks a build of every locked %s for macOS, Windows and Linux', (name, platforms) => {
    const copies = locked(name);
    expect(copies.length).toBeGreaterThan(0);
    for (const key of copies) {
      const builds = Object.keys(packages[key]!.optionalDependencies ?? {}).flatMap((dep) => {
        const build = resolve(key, dep);
        return build ? [packages[build]!] : [];
      });
      const covered = new Set(builds.flatMap((b) => (b.os ?? []).flatMap((os) => (b.cpu ?? []).map((cpu) => `${os}/${cpu}`))));
      expect(platforms.filter((p) => !covered.has(p)), `${key} ${packages[key]!.version}`).toEqual([]);
    }
  });

  it("lets exactly the locked packages with install scripts run them, by package.json's allowScripts", () => {
    const withScripts = new Set(Object.entries(packages).filter(([, pkg]) => pkg.hasInstallScript).map(([key]) => nameOf(key)));
    const allowed = Object.entries(manifest.allowScripts ?? {});
    expect(allowed.filter(([, allow]) => allow === true).map(([name]) => name).sort()).toEqual([...withScripts].sort());
  });
});
