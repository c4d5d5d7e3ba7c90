// The brain's way to the files messages name: the metadata from the session's workspace store, the bytes from the
// FILES bucket under that workspace's key (the same key the API wrote them under).
import type { Env } from '../env.ts';
import type { FilePort } from './ports.ts';
import { fileObjectKey } from '../../contract/file.ts';
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
  };
}
