// How large anything the API stores may be: the limits (the official ones where the SDK's doc comments state
// them), and the checks that keep every stored object inside one SQLite row. docs/limits.md is the user's copy.
import { z } from 'zod';

/**
 * Per-field limits. Characters are UTF-16 code units (JavaScript string length), as zod counts them. Each is
 * enforced in the zod schema of the field, so a refusal names the field: `system: at most 262144 characters`.
 */
export const LIMITS = {
  // official: agents.d.ts, sessions.d.ts, vaults.d.ts, credentials.d.ts
  description: 2048,
  metadataPairs: 16,
  metadataKey: 64,
  metadataValue: 512,
  tools: 256,
  mcpServers: 20,
  mcpServerName: 255,
  toolName: 128,
  roleArn: 2048,
  domainEntries: 64,
  sessionSystemOverride: 100_000,
  initialEvents: 50,
  displayName: 255,
  // ours, where the SDK states none
  name: 256,
  /** The same number the SDK gives for an outcome rubric: room for a very long prompt, far below a row. */
  system: 262_144,
  modelId: 256,
  inferenceGeo: 64,
  domain: 2048,
  toolDescription: 32_768,
  mcpToolConfigs: 256,
  skills: 64,
  skillId: 256,
  skillVersion: 64,
  url: 2048,
  id: 256,
  vaultIds: 64,
  title: 512,
  amount: 32,
  allowedHosts: 256,
  hostname: 253,
  packages: 256,
  packageSpec: 256,
  oauthClientId: 1024,
  oauthScope: 4096,
  workspaceName: 40,
  apiKeyName: 500,
  workspaceIds: 100,
  /** JSON-valued fields, counted in bytes of their JSON (UTF-8). */
  inputSchemaBytes: 65_536,
  multiagentBytes: 65_536,
  toolOptionBytes: 16_384,
} as const;

/**
 * Durable Object SQLite rows hold at most 2 MB. A stored agent must leave room for the rest of a session, which
 * copies it into its index row and into its log's state, so it gets half of that; other stored objects get
 * `MAX_ROW_BYTES`, leaving room for the row's other columns.
 */
export const MAX_AGENT_BYTES = 1_048_576;
export const MAX_ROW_BYTES = 1_500_000;

/** A JSON-valued field (e.g. a tool's `input_schema`) at most `max` bytes as JSON. */
export function jsonAtMost<S extends z.ZodType>(schema: S, max: number) {
  return schema.superRefine((value, ctx) => {
    const size = jsonBytes(value);
    if (size > max) ctx.addIssue({ code: 'custom', message: `at most ${max} bytes as JSON, got ${size}` });
  });
}

function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}

function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4; // a surrogate pair: one 4-byte character
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Why `value` cannot be stored as one object of at most `max` bytes of JSON, or null when it can. The message
 * leads with the field that takes most of the room (`tools[3].input_schema: …`), so the caller knows what to
 * shrink; `root` prefixes that path (`agent.`) and `what` names the object.
 */
export function storedSizeProblem(value: unknown, max: number, what: string, root = ''): string | null {
  const size = jsonBytes(value);
  if (size <= max) return null;
  const { path, bytes } = largestField(value, root);
  return `${path || what}: too large to store: the ${what} would take ${size} bytes as JSON, at most ${max}${path ? ` (${path} is ${bytes} bytes of it)` : ''}`;
}

/** Descends into the largest child while it holds at least half of its parent: the field to blame. */
function largestField(value: unknown, root: string): { path: string; bytes: number } {
  let path = root.replace(/\.$/, '');
  let node = value;
  let bytes = jsonBytes(value);
  for (;;) {
    if (node === null || typeof node !== 'object') break;
    let best: { key: string | number; child: unknown; bytes: number } | null = null;
    for (const [key, child] of Array.isArray(node) ? node.entries() : Object.entries(node)) {
      const b = jsonBytes(child);
      if (!best || b > best.bytes) best = { key, child, bytes: b };
    }
    if (!best || best.bytes * 2 < bytes) break;
    path = typeof best.key === 'number' ? `${path}[${best.key}]` : path ? `${path}.${best.key}` : best.key;
    node = best.child;
    bytes = best.bytes;
  }
  return { path, bytes };
}
