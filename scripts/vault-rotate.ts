// Rotates the local runtime's vault master key: the current key joins the previous keys (still used to read
// credentials written under it) and a new key becomes current (used for every write from the next start on).
// Usage: npm run vault:rotate [-- --state-dir DIR]. Stop the runtime first; start it again afterwards.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newVaultKey, resolveStateDir, VAULT_KEY_FILE, VAULT_PREVIOUS_KEYS_FILE } from './runtime.ts';

export function rotateVaultKey(stateDir: string): { previousKeys: number } {
  const current = path.join(stateDir, VAULT_KEY_FILE);
  if (!existsSync(current)) throw new Error(`${current} does not exist: there is no key to rotate (it is made at the first start)`);
  const old = readFileSync(current, 'utf8').trim();
  const previous = path.join(stateDir, VAULT_PREVIOUS_KEYS_FILE);
  // the old key is kept first: losing it would make every credential written under it unreadable
  appendFileSync(previous, `${old}\n`, { mode: 0o600 });
  const tmp = `${current}.${process.pid}.tmp`;
  writeFileSync(tmp, `${newVaultKey()}\n`, { mode: 0o600 });
  renameSync(tmp, current);
  const count = readFileSync(previous, 'utf8').split('\n').filter((l) => l.trim()).length;
  return { previousKeys: count };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { 'state-dir': { type: 'string' } } });
  const stateDir = resolveStateDir(values['state-dir'] ?? process.env.EDGEHARNESS_STATE_DIR);
  try {
    const { previousKeys } = rotateVaultKey(stateDir);
    console.log(`vault master key rotated in ${stateDir}: new writes use the new key; ${previousKeys} earlier key(s) kept for reading`);
  } catch (error) {
    console.error(`vault:rotate: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
