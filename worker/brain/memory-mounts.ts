// A session's memory stores as its tool calls see them: read for the hands to mount before a call, and what a call
// wrote under a mount saved once (each change a version by the session) with a note for the agent on what was not.
import { redactContent, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { MemoryChanges, SandboxMemoryStore } from '../../sandbox/hands.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import type { FilePort } from './ports.ts';

/**
 * Saves the changes a call made under the session's mounts (at most once per call id, however often a crashed brain
 * retries it) and answers, for the agent, each file that did not become a memory and why; nothing when all did.
 */
export async function saveMemoryChanges(port: FilePort, spec: SessionSpec, callId: string, changes: MemoryChanges[], stores: SandboxMemoryStore[]): Promise<string[]> {
  const mountOf = (storeId: string): string => stores.find((s) => s.storeId === storeId)?.mountPath ?? storeId;
  const notes = changes.flatMap((c) => c.refused.map((r) => `${mountOf(c.storeId)}${r.path === '/' ? '' : r.path}: ${r.reason}`));
  const toSave = changes.filter((c) => c.writes.length > 0);
  if (toSave.length > 0) {
    const saved = await port.saveMemoryChanges(spec.workspaceId, spec.sessionId, callId, toSave);
    for (const s of saved) {
      if ('problem' in s) notes.push(`${mountOf(s.storeId)}: ${s.problem}; nothing written there was saved`);
      else for (const a of s.applied) if (a.outcome === 'refused') notes.push(`${mountOf(s.storeId)}${a.path}: ${a.reason ?? 'refused'}`);
    }
  }
  if (notes.length === 0) return [];
  return [
    ['These files under a memory store mount were not saved as memories (and are put back as the store has them before the next tool call):', ...notes.map((n) => `- ${n}`)].join('\n'),
  ];
}

/**
 * The changes with every credential value redacted from what was written, as a tool result is: a response that
 * echoed a secret into a file under a mount must not make it a memory that outlives the session.
 */
export function redactMemoryChanges(changes: MemoryChanges[], credentials: readonly SandboxCredential[]): MemoryChanges[] {
  if (credentials.length === 0) return changes;
  return changes.map((c) => ({
    ...c,
    writes: c.writes.map((w) => (w.type === 'write' ? { ...w, content: redactContent([{ type: 'text', text: w.content }], credentials)[0]!.text } : w)),
  }));
}
