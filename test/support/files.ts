// Looking for a canary at rest: every file under a directory whose bytes contain a string.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: false }) as string[]) {
    const file = path.join(dir, entry);
    try {
      if (statSync(file).isFile() && readFileSync(file).includes(needle)) found.push(file);
    } catch {
      // removed meanwhile (a socket, a temp file)
    }
  }
  return found;
}
