// The local sandbox host: an HTTP server on 127.0.0.1, outside every sandbox, that the Worker's `localHands` calls
// to provision, run tools in, and destroy each session's sandbox. It keeps workspaces and idempotency records
// on disk (they survive a restart); sandboxes themselves are cattle, started on the first call.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import type { SandboxCredential } from '../credentials.ts';
import { DEFAULT_TOOL_TIMEOUT_MS, MAX_RESULT_CHARS, type FileError, type SandboxMemoryStore, type SandboxRepository, type SandboxSpec, type ToolOutcome } from '../hands.ts';
import { CallLedger, callKey } from '../call-ledger.ts';
import { CallRecordFiles } from './call-records.ts';
import { SessionSandbox, type SandboxLaunch, type SandboxSettings } from './session-sandbox.ts';
import { cloneRepositories } from './repositories.ts';
import { hostOwned, placedFiles, placeFile, removeUnlisted, skillPlacements, type PlacedKind } from './session-files.ts';
import { handOverWorkspace, sandboxUser } from './sandbox-user.ts';
import { collectMemoryMount, memoryMountDiffers, syncMemoryMount } from '../memory-mount.ts';

export const DEFAULT_IDLE_MS = 15 * 60_000;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** The largest file resource placed in a sandbox (docs/session-resources.md); the client checks it too. */
export const MAX_PLACED_FILE_BYTES = MAX_BODY_BYTES;
const MAX_TOOL_TIMEOUT_MS = 60 * 60_000;
const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface SandboxHostOptions {
  /** Where workspaces and records live: `<dir>/<sessionId>/{workspace,results,sandbox.log}`. */
  stateDir: string;
  /** Every request must carry `authorization: Bearer <secret>`. */
  secret: string;
  /** Default 0: a free port. Always on 127.0.0.1. */
  port?: number;
  /** More directories no sandbox may read (the runtime's whole state dir); `stateDir` always is. */
  hide?: string[];
  /** A runner idle this long is stopped (its workspace kept). Default 15 min. */
  idleMs?: number;
}

export interface SandboxHost {
  url: string;
  port: number;
  /** Stops every sandbox and the server. */
  close(): Promise<void>;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

const Networking = z.discriminatedUnion('type', [
  z.object({ type: z.literal('unrestricted') }),
  z.object({
    type: z.literal('limited'),
    allowed_hosts: z.array(z.string()),
    allow_package_managers: z.boolean().default(false),
    allow_mcp_servers: z.boolean().default(false),
  }),
]);
const HostList = z.object({ type: z.literal('limited'), allowed_hosts: z.array(z.string()) });
const Credential = z.object({
  credentialId: z.string().min(1),
  vaultId: z.string(),
  name: z.string().min(1),
  // the placeholder is what the proxy looks for: one without the common prefix would never be substituted
  placeholder: z.string().startsWith('edgeharness_placeholder_'),
  value: z.string(),
  networking: z.discriminatedUnion('type', [z.object({ type: z.literal('unrestricted') }), HostList]),
  injection: z.object({ header: z.boolean(), body: z.boolean() }),
}) satisfies z.ZodType<SandboxCredential>;
const Repository = z.object({
  resourceId: z.string().min(1),
  url: z.string().regex(/^https?:\/\//),
  checkout: z
    .discriminatedUnion('type', [
      // never an option to git: a branch does not start with '-', a sha is hex
      z.object({ type: z.literal('branch'), name: z.string().min(1).regex(/^[^-]/) }),
      z.object({ type: z.literal('commit'), sha: z.string().regex(/^[0-9a-f]{40,64}$/) }),
    ])
    .nullable(),
  mountPath: z.string().startsWith('/'),
  token: z.string().nullable(),
}) satisfies z.ZodType<SandboxRepository>;
const MemoryStore = z.object({
  storeId: z.string().min(1),
  mountPath: z.string().regex(/^\/mnt\/memory\/[^/]+$/),
  access: z.enum(['read_write', 'read_only']),
  memories: z.array(z.object({ path: z.string().startsWith('/'), content: z.string() })),
}) satisfies z.ZodType<SandboxMemoryStore>;
const Spec = z.object({
  sessionId: z.string().regex(SESSION_ID),
  workspaceId: z.string(),
  environmentId: z.string(),
  networking: Networking,
  credentials: z.array(Credential).default([]),
  repositories: z.array(Repository).default([]),
  memoryStores: z.array(MemoryStore).default([]),
}) satisfies z.ZodType<SandboxSpec>;
const ExecuteBody = z.object({
  spec: Spec,
  call: z.object({
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
    idempotencyKey: z.string().min(1).max(512),
    timeoutMs: z.number().int().positive().max(MAX_TOOL_TIMEOUT_MS).optional(),
  }),
});
type SpecBody = z.infer<typeof Spec>;
const FileList = z.object({ files: z.array(z.object({ resourceId: z.string().min(1), mountPath: z.string().startsWith('/') })) });
const SkillList = z.object({
  skills: z.array(
    z.object({
      skillId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
      version: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
      name: z.string(),
      files: z.array(z.object({ path: z.string().min(1).max(1024) })).max(1000),
    }),
  ),
});
type PlaceError = { type: 'unknown_error'; message: string };

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function startSandboxHost(options: SandboxHostOptions): Promise<SandboxHost> {
  const stateDir = path.resolve(options.stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const secretDigest = digest(options.secret);
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const launch: SandboxLaunch = {
    hiddenState: [...new Set([stateDir, ...(options.hide ?? []).map((p) => path.resolve(p))])],
    projectRoot: PROJECT_ROOT,
    toolRunner: path.join(import.meta.dirname, 'tool-runner.ts'),
    nodeBinary: realpathSync(process.execPath),
    maxResultChars: MAX_RESULT_CHARS,
  };

  const sandboxes = new Map<string, SessionSandbox>();
  /**
   * Each session's call ledger, exclusive: this host is the only runner of the state directory's calls, so a call
   * recorded as started that this host is not running was cut off by an earlier host's death.
   */
  const ledgers = new Map<string, { ledger: CallLedger; records: CallRecordFiles }>();

  const sessionDir = (id: string): string => path.join(stateDir, id);
  const records = (id: string): CallRecordFiles => new CallRecordFiles(path.join(sessionDir(id), 'results'));
  const ledgerOf = (id: string): CallLedger => {
    let entry = ledgers.get(id);
    if (!entry) {
      const files = records(id);
      entry = { ledger: new CallLedger(files, { exclusive: true }), records: files };
      ledgers.set(id, entry);
    }
    return entry.ledger;
  };
  const sandboxOf = (id: string): SessionSandbox => {
    let sandbox = sandboxes.get(id);
    if (!sandbox) {
      sandbox = new SessionSandbox({
        workspace: path.join(sessionDir(id), 'workspace'),
        logFile: path.join(sessionDir(id), 'sandbox.log'),
        launch,
        idleMs,
      });
      sandboxes.set(id, sandbox);
    }
    return sandbox;
  };

  function describe(id: string): Record<string, unknown> {
    const running = sandboxes.get(id)?.status() ?? { status: 'none', started_at: null, pid: null };
    return {
      session_id: id,
      ...running,
      executions: records(id).count(),
      workspace: existsSync(sessionDir(id)) ? path.join(sessionDir(id), 'workspace') : null,
    };
  }

  /** Each session's repositories are cloned once, before its first call runs; calls arriving meanwhile wait for it. */
  const cloning = new Map<string, Promise<unknown>>();
  async function cloneOnce(id: string, repositories: SandboxRepository[]) {
    const before = cloning.get(id) ?? Promise.resolve();
    const run = before.then(async () => {
      const workspace = path.join(sessionDir(id), 'workspace');
      const { errors, cloned } = await cloneRepositories(sessionDir(id), workspace, repositories);
      // what the host cloned becomes the sandbox user's, as the workspace is (a no-op when the host sandboxes as itself)
      // ... but not a session file placed in the same top-level directory, which stays the host's, read-only
      const keep = hostOwned(sessionDir(id), workspace);
      for (const top of cloned) handOverWorkspace(top, sandboxUser(), keep);
      return errors;
    });
    cloning.set(id, run.catch(() => {}));
    return run;
  }

  /** File resources and skill files that could not be placed (`<kind>:<key>`), each reported once (until the host restarts). */
  const unplaceable = new Map<string, Set<string>>();
  const failedOf = (id: string): Set<string> => {
    let failed = unplaceable.get(id);
    if (!failed) unplaceable.set(id, (failed = new Set()));
    return failed;
  };

  /** Removes the copies of files no longer listed and answers which listed ones still need placing. */
  function syncFiles(id: string, files: z.infer<typeof FileList>['files']): string[] {
    const workspace = path.join(sessionDir(id), 'workspace');
    removeUnlisted(sessionDir(id), workspace, 'files', new Set(files.map((f) => f.resourceId)));
    const placed = placedFiles(sessionDir(id), 'files');
    const failed = failedOf(id);
    return files.filter((f) => placed[f.resourceId] !== f.mountPath && !failed.has(`files:${f.resourceId}`)).map((f) => f.resourceId);
  }

  /**
   * Removes the files of skills no longer listed (or of another version) and answers, for each listed skill, the
   * paths still to place; a skill whose name or paths are refused is reported (once) and nothing of it is placed.
   */
  function syncSkills(id: string, skills: z.infer<typeof SkillList>['skills']): { missing: Array<{ skillId: string; paths: string[] }>; errors: PlaceError[] } {
    const workspace = path.join(sessionDir(id), 'workspace');
    const failed = failedOf(id);
    const errors: PlaceError[] = [];
    const wanted = skills.flatMap((skill) => {
      try {
        return [{ skillId: skill.skillId, files: skillPlacements(skill) }];
      } catch (error) {
        const key = `skills:${skill.skillId}/${skill.version}`;
        if (!failed.has(key)) errors.push({ type: 'unknown_error', message: `skill ${skill.skillId} version ${skill.version} was not placed: ${message(error)}; the session goes on without it` });
        failed.add(key);
        return [];
      }
    });
    removeUnlisted(sessionDir(id), workspace, 'skills', new Set(wanted.flatMap((w) => w.files.map((f) => f.key))));
    const placed = placedFiles(sessionDir(id), 'skills');
    const missing = wanted
      .map((w) => ({ skillId: w.skillId, paths: w.files.filter((f) => placed[f.key] !== f.mountPath && !failed.has(`skills:${f.key}`)).map((f) => f.path) }))
      .filter((m) => m.paths.length > 0);
    return { missing, errors };
  }

  /**
   * Places one file. The session's sandbox is stopped first (a cattle restart; the workspace stays): with nothing of
   * the sandbox running, nothing can swap a directory under the host while it writes as root. `bytes` a string:
   * the Worker could not read them, and says why.
   */
  async function placeOne(id: string, kind: PlacedKind, key: string, mountPath: string, bytes: Uint8Array | string, what: string): Promise<{ placed: true } | { error: PlaceError }> {
    const run = (cloning.get(id) ?? Promise.resolve()).then(async () => {
      try {
        if (typeof bytes === 'string') throw new Error(bytes);
        await sandboxes.get(id)?.stop();
        const workspace = path.join(sessionDir(id), 'workspace');
        mkdirSync(workspace, { recursive: true, mode: 0o700 });
        // the workspace becomes the sandbox user's now, not at the sandbox's start, whose walk would take the file too
        handOverWorkspace(workspace, sandboxUser());
        placeFile(sessionDir(id), workspace, kind, key, mountPath, bytes);
        failedOf(id).delete(`${kind}:${key}`);
        return { placed: true as const };
      } catch (error) {
        failedOf(id).add(`${kind}:${key}`);
        return { error: { type: 'unknown_error' as const, message: `${what} was not placed at ${mountPath}: ${message(error)}; the session goes on without it` } };
      }
    });
    cloning.set(id, run.catch(() => {}));
    return run;
  }

  /** Places one file of a skill, its name and path checked by the rules of a listed skill's. */
  async function placeSkillFile(id: string, skill: z.infer<typeof SkillList>['skills'][number], bytes: Uint8Array | string) {
    let target: ReturnType<typeof skillPlacements>[number];
    try {
      [target] = skillPlacements(skill) as [typeof target];
    } catch (error) {
      throw new HttpError(400, message(error));
    }
    return placeOne(id, 'skills', target.key, target.mountPath, bytes, `file ${target.path} of skill ${skill.name} (${skill.skillId} version ${skill.version})`);
  }

  async function execute(id: string, body: z.infer<typeof ExecuteBody>): Promise<ToolOutcome> {
    const { spec, call } = body;
    const key = await callKey(call.idempotencyKey);
    const timeoutMs = call.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
    // redacted of the credentials' values by the sandbox before it is recorded or returned; the repository errors
    // are recorded with the outcome, so a repeat of the call reports them too
    return ledgerOf(id).run(key, timeoutMs, async () => {
      const repositoryErrors = await cloneOnce(id, spec.repositories);
      const memory = await mountMemory(id, spec.memoryStores);
      const outcome = await sandboxOf(id).run(settings(spec), { name: call.name, input: call.input, key, timeoutMs });
      // collected before the outcome is recorded: what the call wrote is saved by the brain from the record
      const workspace = path.join(sessionDir(id), 'workspace');
      const memoryChanges = memory.mounted.map((store) => collectMemoryMount(workspace, store)).filter((c) => c.writes.length > 0 || c.refused.length > 0);
      return {
        ...outcome,
        ...(repositoryErrors.length ? { repositoryErrors } : {}),
        ...(memory.errors.length ? { fileErrors: memory.errors } : {}),
        ...(memoryChanges.length ? { memoryChanges } : {}),
      };
    });
  }

  /**
   * Makes each memory store's mount hold the store's memories as they are now (other sessions' writes included).
   * Only when one differs is the session's sandbox stopped first, as for placing a file, so nothing of it changes the
   * mount while the host writes. A store that cannot be mounted is reported, and its changes are not collected.
   */
  async function mountMemory(id: string, stores: SandboxMemoryStore[]): Promise<{ mounted: SandboxMemoryStore[]; errors: FileError[] }> {
    if (stores.length === 0) return { mounted: [], errors: [] };
    const run = (cloning.get(id) ?? Promise.resolve()).then(async () => {
      const workspace = path.join(sessionDir(id), 'workspace');
      mkdirSync(workspace, { recursive: true, mode: 0o700 });
      const stale = stores.filter((s) => memoryMountDiffers(workspace, s));
      if (stale.length === 0) return { mounted: stores, errors: [] };
      await sandboxes.get(id)?.stop();
      const user = sandboxUser();
      // the workspace becomes the sandbox user's first, so its hand-over never takes a read-only memory too
      handOverWorkspace(workspace, user);
      const errors: FileError[] = [];
      const mounted = stores.filter((store) => {
        try {
          if (stale.includes(store)) syncMemoryMount(workspace, store, user.switches ? user : undefined);
          return true;
        } catch (error) {
          errors.push({ type: 'unknown_error', message: `memory store ${store.storeId} was not mounted at ${store.mountPath}: ${message(error)}; nothing written there is saved` });
          return false;
        }
      });
      return { mounted, errors };
    });
    cloning.set(id, run.catch(() => {}));
    return run;
  }

  async function destroy(id: string): Promise<void> {
    // a call still running keeps its ledger, but its outcome is no longer recorded
    ledgers.get(id)?.records.retire();
    ledgers.delete(id);
    cloning.delete(id);
    unplaceable.delete(id);
    const sandbox = sandboxes.get(id);
    sandboxes.delete(id);
    await sandbox?.stop();
    rmSync(sessionDir(id), { recursive: true, force: true });
  }

  async function route(req: IncomingMessage): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://sandbox-host');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/healthz') return [200, { ok: true }];
    if (parts[0] !== 'v1' || parts[1] !== 'sandboxes') throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
    if (parts.length === 2 && req.method === 'GET') {
      const ids = new Set([...sandboxes.keys(), ...readdirSync(stateDir).filter((d) => SESSION_ID.test(d))]);
      return [200, { data: [...ids].sort().map(describe) }];
    }
    const id = parts[2] ?? '';
    if (!SESSION_ID.test(id)) throw new HttpError(400, 'session id: expected 1–128 letters, digits, "_" or "-"');
    const action = parts.slice(3).join('/');
    if (action === '' && req.method === 'GET') return [200, describe(id)];
    if (action === '' && req.method === 'DELETE') {
      await destroy(id);
      return [200, { session_id: id, deleted: true }];
    }
    if (action === 'provision' && req.method === 'POST') {
      const spec = parse(Spec, await readJson(req), 'body');
      checkSession(id, spec);
      try {
        await sandboxOf(id).ensureRunning(settings(spec));
      } catch (error) {
        throw new HttpError(503, `the sandbox could not start: ${message(error)}`);
      }
      return [200, describe(id)];
    }
    if (action === 'execute' && req.method === 'POST') {
      const body = parse(ExecuteBody, await readJson(req), 'body');
      checkSession(id, body.spec);
      return [200, await execute(id, body)];
    }
    if (action === 'files' && req.method === 'POST') {
      const body = parse(FileList, await readJson(req), 'body');
      return [200, { missing: syncFiles(id, body.files) }];
    }
    if (parts[3] === 'files' && parts.length === 5 && req.method === 'PUT') {
      const mountPath = url.searchParams.get('mount_path') ?? '';
      if (!mountPath.startsWith('/')) throw new HttpError(400, 'mount_path: expected an absolute path');
      // the Worker could not read the bytes (the file is gone from the Files API): recorded as not placeable
      const unreadable = url.searchParams.get('unreadable');
      const bytes = unreadable ?? (await readBody(req));
      return [200, await placeOne(id, 'files', parts[4]!, mountPath, bytes, `file resource ${parts[4]!}`)];
    }
    if (action === 'skills' && req.method === 'POST') {
      const body = parse(SkillList, await readJson(req), 'body');
      return [200, syncSkills(id, body.skills)];
    }
    if (parts[3] === 'skills' && parts.length === 6 && req.method === 'PUT') {
      // one skill as listed, so the host checks the name and path it places by the same rules
      const skill = parse(SkillList.shape.skills.element, {
        skillId: parts[4],
        version: parts[5],
        name: url.searchParams.get('name') ?? '',
        files: [{ path: url.searchParams.get('path') ?? '' }],
      }, 'query');
      const unreadable = url.searchParams.get('unreadable');
      const bytes = unreadable ?? (await readBody(req));
      return [200, await placeSkillFile(id, skill, bytes)];
    }
    throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    if (!authorized(req.headers.authorization, secretDigest)) {
      send(res, 401, { error: { type: 'authentication_error', message: 'missing or wrong bearer secret' } });
      req.resume();
      return;
    }
    route(req).then(
      ([status, body]) => send(res, status, body),
      (error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        const type = status === 404 ? 'not_found_error' : status < 500 ? 'invalid_request_error' : 'api_error';
        send(res, status, { error: { type, message: message(error) } });
      },
    );
  });
  // a tool call may legitimately take its whole timeout; the server must not cut the request first
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await Promise.all([...sandboxes.values()].map((s) => s.stop()));
      })();
      return closing;
    },
  };
}

function settings(spec: SpecBody): SandboxSettings {
  return { networking: spec.networking, credentials: spec.credentials };
}

function checkSession(id: string, spec: SpecBody): void {
  if (spec.sessionId !== id) throw new HttpError(400, `spec.sessionId: expected "${id}" (the session in the path), got "${spec.sessionId}"`);
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const at = [where, ...(issue?.path ?? []).map(String)].join('.');
  throw new HttpError(400, `${at}: ${issue?.message ?? 'invalid'}`);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body: larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body: expected JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Compares digests, so neither the secret's content nor its length leaks through timing. */
function authorized(header: string | undefined, secretDigest: Buffer): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), secretDigest);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
