// The brain's way to the files messages name, the skills' files and memory stores the sandbox gets: the metadata from the
// session's workspace store, the bytes from the FILES bucket under that workspace's key (the same key the API
// wrote them under).
import type { Env } from '../env.ts';
import type { FilePort } from './ports.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import type { SandboxSkill } from '../../sandbox/hands.ts';
import { fileObjectKey } from '../../contract/file.ts';
import { skillFileKey } from '../../contract/skill.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';

export function filesFor(env: Env): FilePort {
  return {
    async read(workspaceId, fileId) {
      const file = await workspaceStore(env, workspaceId).getFile(fileId);
      if (!file.ok) return null;
      const object = await env.FILES.get(fileObjectKey(workspaceId, file.value.id));
      if (!object) return null;
      return { mimeType: file.value.mime_type, bytes: new Uint8Array(await object.arrayBuffer()) };
    },
    sessionFiles(workspaceId, sessionId) {
      return workspaceStore(env, workspaceId).sessionFiles(sessionId);
    },
    async skillFiles(workspaceId, skillId, version) {
      const found = await workspaceStore(env, workspaceId).getSkillVersion(skillId, version);
      return found.ok ? found.value.files.map((f) => f.path) : null;
    },
    async readSkillFile(workspaceId, skillId, version, path) {
      const object = await env.FILES.get(skillFileKey(workspaceId, skillId, version, path));
      return object ? new Uint8Array(await object.arrayBuffer()) : null;
    },
    sessionMemoryStores(workspaceId, sessionId) {
      return workspaceStore(env, workspaceId).sessionMemoryStores(sessionId);
    },
    saveMemoryChanges(workspaceId, sessionId, callId, changes) {
      return workspaceStore(env, workspaceId).saveSessionMemoryWrites(sessionId, callId, changes.map((c) => ({ storeId: c.storeId, writes: c.writes })));
    },
  };
}

/**
 * The agent's skills as the hands take them, each the version the session pinned: its file list from the store, the
 * bytes from the bucket only if the hands ask. A skill of a spec stored before skills were placed (no id or
 * version), or whose version is gone, is not placed.
 */
export async function sessionSkills(port: FilePort, spec: SessionSpec): Promise<SandboxSkill[]> {
  const pinned = (spec.skills ?? []).flatMap((s) => (s.skill_id && s.version ? [{ name: s.name, skillId: s.skill_id, version: s.version }] : []));
  const listed = await Promise.all(pinned.map(async (s) => ({ ...s, paths: await port.skillFiles(spec.workspaceId, s.skillId, s.version) })));
  return listed.flatMap(({ paths, ...s }) =>
    paths === null ? [] : [{ ...s, files: paths.map((p) => ({ path: p, read: () => port.readSkillFile(spec.workspaceId, s.skillId, s.version, p) })) }],
  );
}
