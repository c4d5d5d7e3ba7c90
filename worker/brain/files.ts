// The brain's way to the files messages name and the skills' files the sandbox gets: the metadata from the
// session's workspace store, the bytes from the FILES bucket under that workspace's key (the same key the API
// wrote them under).
import type { Env } from '../env.ts';
import type { FilePort } from './ports.ts';
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
  };
}
