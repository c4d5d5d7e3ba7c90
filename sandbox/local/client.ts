// The Worker's side of the local provider: `Hands` over plain fetch to the sandbox host that `npm start` runs,
// authenticated with the shared secret. Runs inside workerd, so web APIs only (no node: imports).
import type { FileError, Hands, SandboxFile, SandboxSkill, SandboxSpec, ToolCall, ToolOutcome } from '../hands.ts';
import { DEFAULT_TOOL_TIMEOUT_MS } from '../hands.ts';

export interface LocalHandsEnv {
  SANDBOX_HOST_URL?: string;
  EDGEHARNESS_SANDBOX_SECRET?: string;
}

/** Slack beyond the tool's own timeout for starting a cold sandbox and the round trip. */
const EXECUTE_SLACK_MS = 90_000;
const CONTROL_TIMEOUT_MS = 90_000;
/** The largest file resource the host places: its request limit (host.ts MAX_PLACED_FILE_BYTES). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * `execute` never throws: an unreachable or failing host becomes an `isError` outcome the model can read.
 * `provision` throws when the sandbox cannot be started; `destroy` never throws (a sandbox left behind is
 * stopped by the host's idle timeout).
 */
export function localHands(env: LocalHandsEnv): Hands {
  const base = env.SANDBOX_HOST_URL?.replace(/\/+$/, '');
  const secret = env.EDGEHARNESS_SANDBOX_SECRET;
  const notConfigured = 'no sandbox host is configured (SANDBOX_HOST_URL and EDGEHARNESS_SANDBOX_SECRET are unset; `npm start` sets them)';

  async function call(method: string, path: string, body: unknown, timeoutMs: number): Promise<Response> {
    if (!base || !secret) throw new Error(notConfigured);
    const raw = body instanceof Uint8Array;
    return fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, ...(body === undefined || raw ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  const sessionPath = (sessionId: string): string => `/v1/sandboxes/${encodeURIComponent(sessionId)}`;

  /**
   * Brings the sandbox's files in line with the session's file resources before a call: the host drops the copies
   * of resources gone and names those it lacks, and each of those is read (only then) and sent as its own request
   * body, never inside JSON. Answers what could not be placed; never throws.
   */
  async function syncFiles(sessionId: string, files: SandboxFile[]): Promise<FileError[]> {
    const errors: FileError[] = [];
    try {
      const listed = files.map((f) => ({ resourceId: f.resourceId, mountPath: f.mountPath }));
      const response = await call('POST', `${sessionPath(sessionId)}/files`, { files: listed }, CONTROL_TIMEOUT_MS);
      if (!response.ok) throw new Error(await errorText(response));
      const { missing } = (await response.json()) as { missing: string[] };
      for (const file of files.filter((f) => missing.includes(f.resourceId))) {
        const bytes = await file.read();
        const unreadable =
          bytes === null
            ? `file ${file.fileId} is no longer in the workspace's files`
            : bytes.length > MAX_FILE_BYTES
              ? `file ${file.fileId} is ${bytes.length} bytes, over the local sandbox's limit of ${MAX_FILE_BYTES}`
              : null;
        const query = new URLSearchParams({ mount_path: file.mountPath, ...(unreadable ? { unreadable } : {}) });
        const put = await call('PUT', `${sessionPath(sessionId)}/files/${encodeURIComponent(file.resourceId)}?${query}`, unreadable ? undefined : bytes!, CONTROL_TIMEOUT_MS);
        if (!put.ok) throw new Error(await errorText(put));
        const answer = (await put.json()) as { error?: FileError };
        if (answer.error) errors.push({ type: 'unknown_error', message: String(answer.error.message) });
      }
    } catch (error) {
      errors.push({ type: 'unknown_error', message: `the session's file resources could not be placed in the sandbox: ${describe(error)}` });
    }
    return errors;
  }

  /**
   * Brings the sandbox's skills in line with the agent's, as `syncFiles` does files: the host drops the files of
   * skills gone (or of another version) and names the paths it lacks; only those are read and sent. A placed skill
   * costs this one request per call. Failures are reported as file errors (a skill's files are files); never throws.
   */
  async function syncSkills(sessionId: string, skills: SandboxSkill[]): Promise<FileError[]> {
    const errors: FileError[] = [];
    try {
      const listed = skills.map((s) => ({ skillId: s.skillId, version: s.version, name: s.name, files: s.files.map((f) => ({ path: f.path })) }));
      const response = await call('POST', `${sessionPath(sessionId)}/skills`, { skills: listed }, CONTROL_TIMEOUT_MS);
      if (!response.ok) throw new Error(await errorText(response));
      const answer = (await response.json()) as { missing: Array<{ skillId: string; paths: string[] }>; errors: FileError[] };
      errors.push(...answer.errors.map((e) => ({ type: 'unknown_error' as const, message: String(e.message) })));
      for (const { skillId, paths } of answer.missing) {
        const skill = skills.find((s) => s.skillId === skillId);
        for (const file of skill?.files.filter((f) => paths.includes(f.path)) ?? []) {
          const bytes = await file.read();
          const unreadable =
            bytes === null
              ? `the bytes of ${file.path} are missing from the skill's stored version`
              : bytes.length > MAX_FILE_BYTES
                ? `${file.path} is ${bytes.length} bytes, over the local sandbox's limit of ${MAX_FILE_BYTES}`
                : null;
          const query = new URLSearchParams({ name: skill!.name, path: file.path, ...(unreadable ? { unreadable } : {}) });
          const where = `${sessionPath(sessionId)}/skills/${encodeURIComponent(skillId)}/${encodeURIComponent(skill!.version)}?${query}`;
          const put = await call('PUT', where, unreadable ? undefined : bytes!, CONTROL_TIMEOUT_MS);
          if (!put.ok) throw new Error(await errorText(put));
          const placed = (await put.json()) as { error?: FileError };
          if (placed.error) errors.push({ type: 'unknown_error', message: String(placed.error.message) });
        }
      }
    } catch (error) {
      errors.push({ type: 'unknown_error', message: `the agent's skills could not be placed in the sandbox: ${describe(error)}` });
    }
    return errors;
  }

  return {
    async provision(spec: SandboxSpec): Promise<void> {
      const response = await call('POST', `${sessionPath(spec.sessionId)}/provision`, spec, CONTROL_TIMEOUT_MS);
      if (!response.ok) throw new Error(`sandbox host: ${await errorText(response)}`);
      await response.body?.cancel();
    },

    async execute(spec: SandboxSpec, toolCall: ToolCall): Promise<ToolOutcome> {
      if (!base || !secret) return failure(notConfigured);
      const timeoutMs = (toolCall.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS) + EXECUTE_SLACK_MS;
      const fileErrors = [
        ...(spec.files ? await syncFiles(spec.sessionId, spec.files) : []),
        ...(spec.skills ? await syncSkills(spec.sessionId, spec.skills) : []),
      ];
      const withFileErrors = (outcome: ToolOutcome): ToolOutcome => {
        const all = [...fileErrors, ...(outcome.fileErrors ?? [])];
        return all.length ? { ...outcome, fileErrors: all } : outcome;
      };
      let response: Response;
      try {
        response = await call('POST', `${sessionPath(spec.sessionId)}/execute`, { spec, call: toolCall }, timeoutMs);
      } catch (error) {
        // asked again with the same key, the host returns the recorded outcome or waits for the call in flight
        return failure(`sandbox host unreachable: ${describe(error)}`);
      }
      if (!response.ok) return failure(`sandbox host answered ${await errorText(response)}`);
      try {
        return withFileErrors(toOutcome(await response.json()));
      } catch (error) {
        return failure(`sandbox host sent an unreadable result: ${describe(error)}`);
      }
    },

    async destroy(sessionId: string): Promise<void> {
      try {
        const response = await call('DELETE', sessionPath(sessionId), undefined, CONTROL_TIMEOUT_MS);
        await response.body?.cancel();
      } catch {
        // never fails a session's deletion; the host stops an abandoned sandbox when it goes idle
      }
    },
  };
}

function failure(text: string): ToolOutcome {
  return { content: [{ type: 'text', text }], isError: true };
}

function toOutcome(value: unknown): ToolOutcome {
  const v = value as Partial<ToolOutcome> | null;
  if (!v || !Array.isArray(v.content) || typeof v.isError !== 'boolean') throw new Error('expected {content, isError}');
  const content = v.content.map((block) => ({ type: 'text' as const, text: typeof block?.text === 'string' ? block.text : '' }));
  const repositoryErrors = Array.isArray(v.repositoryErrors)
    ? v.repositoryErrors.map((e) => ({ type: e.type, message: String(e.message), repository_url: e.repository_url ?? null }))
    : [];
  // the host's own file errors (a memory store it could not mount) and the changes made under memory mounts
  const fileErrors = Array.isArray(v.fileErrors) ? v.fileErrors.map((e) => ({ type: 'unknown_error' as const, message: String(e?.message) })) : [];
  const memoryChanges = Array.isArray(v.memoryChanges) ? v.memoryChanges : [];
  const sandboxStart = v.sandboxStart === 'cold' || v.sandboxStart === 'warm' ? v.sandboxStart : undefined;
  return {
    content,
    isError: v.isError,
    ...(sandboxStart ? { sandboxStart } : {}),
    ...(repositoryErrors.length ? { repositoryErrors } : {}),
    ...(fileErrors.length ? { fileErrors } : {}),
    ...(memoryChanges.length ? { memoryChanges } : {}),
  };
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) return `${response.status}: ${parsed.error.message}`;
  } catch {
    // not JSON: show it as it came
  }
  return `${response.status}: ${text.slice(0, 500)}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.name === 'TimeoutError' ? `no answer within the time limit (${error.message})` : error.message;
  return String(error);
}
