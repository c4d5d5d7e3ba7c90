// WorkspaceStore: one Durable Object per workspace (tenant), hosting that workspace's resources: agents,
// environments, vaults and their credentials, files' metadata, the session index and sessions' resources, and
// Idempotency-Keys (resources/<name>/). Each method forwards to its resource's module. Tenancy is structural:
// another workspace's objects are simply not here.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import type { Result } from '../contract/result.ts';
import type { Agent, AgentCreateParams, AgentUpdateParams } from '../contract/agent.ts';
import type { Page } from '../contract/common.ts';
import type { Environment, EnvironmentCreateParams, EnvironmentUpdateParams } from '../contract/environment.ts';
import type { DeletedFile, FileMetadata } from '../contract/file.ts';
import type { Session, SessionCreateParams, SessionListQuery, SessionRuntime, SessionUpdateParams } from '../contract/session.ts';
import type {
  Credential,
  CredentialCreateParams,
  CredentialUpdateParams,
  McpCredential,
  Vault,
  VaultCreateParams,
  VaultUpdateParams,
} from '../contract/vault.ts';
import type { SandboxCredential } from '../sandbox/credentials.ts';
import type { ResourceAddParams, ResourceUpdateParams, FileResource, SessionResource } from '../contract/session-resource.ts';
import { SessionResources, type FileToPlace, type RepositoryToClone } from '../resources/session-resources/session-resources.ts';
import { sessionResourceMigrations } from '../resources/session-resources/migrations.ts';
import { migrate, type Migration } from '../resources/shared/migrations.ts';
import { Agents } from '../resources/agents/agents.ts';
import { agentMigrations } from '../resources/agents/migrations.ts';
import { Environments } from '../resources/environments/environments.ts';
import { environmentMigrations } from '../resources/environments/migrations.ts';
import { Files, type FileListArgs } from '../resources/files/files.ts';
import { fileMigrations } from '../resources/files/migrations.ts';
import { Skills, type StoredSkillVersion } from '../resources/skills/skills.ts';
import { skillMigrations } from '../resources/skills/migrations.ts';
import type { DeletedSkill, DeletedSkillVersion, Skill, SkillFile, SkillSummary, SkillVersion } from '../contract/skill.ts';
import type { Claim, RequestIdentity, StoredAnswer } from '../contract/idempotency.ts';
import { IdempotencyKeys } from '../resources/idempotency-keys/idempotency-keys.ts';
import { idempotencyKeyMigrations } from '../resources/idempotency-keys/migrations.ts';
import { Sessions } from '../resources/sessions/sessions.ts';
import { sessionMigrations } from '../resources/sessions/migrations.ts';
import type { ListArgs } from '../resources/shared/paging.ts';
import { Credentials } from '../resources/vaults/credentials.ts';
import { VaultKeys } from '../resources/vaults/keys.ts';
import { vaultMigrations } from '../resources/vaults/migrations.ts';
import { Vaults } from '../resources/vaults/vaults.ts';
import { MemoryStores, type AppliedWrite, type MemoryListArgs, type MemoryToPlace, type MemoryVersionListArgs, type MemoryWrite, type SavedStoreWrites } from '../resources/memory-stores/memory-stores.ts';
import { memoryStoreMigrations } from '../resources/memory-stores/migrations.ts';
import { Deployments } from '../resources/deployments/deployments.ts';
import { deploymentMigrations } from '../resources/deployments/migrations.ts';
import type { Deployment, DeploymentCreateParams, DeploymentListQuery, DeploymentRun, DeploymentRunListQuery, DeploymentUpdateParams, TriggerContext } from '../contract/deployment.ts';
import type { EventParams } from '../contract/event.ts';
import type { AgentReference } from '../contract/multiagent.ts';
import { startRun, type RunWorkspace } from './deployment-runs.ts';
import { deploymentScheduler } from './stubs.ts';
import type {
  Actor,
  DeletedMemory,
  DeletedMemoryStore,
  Memory,
  MemoryCreateParams,
  MemoryPrefix,
  MemoryStore,
  MemoryStoreCreateParams,
  MemoryStoreUpdateParams,
  MemoryUpdateParams,
  MemoryVersion,
  MemoryView,
} from '../contract/memory-store.ts';

/** Every resource's migrations, in the order a workspace's database applies them. */
export const WORKSPACE_MIGRATIONS: readonly Migration[] = [
  ...agentMigrations,
  ...environmentMigrations,
  ...vaultMigrations,
  ...sessionMigrations,
  ...idempotencyKeyMigrations,
  ...fileMigrations,
  ...sessionResourceMigrations,
  ...skillMigrations,
  ...memoryStoreMigrations,
  ...deploymentMigrations,
];

export class WorkspaceStore extends DurableObject<Env> {
  private readonly agents: Agents;
  private readonly environments: Environments;
  private readonly vaults: Vaults;
  private readonly credentials: Credentials;
  private readonly sessions: Sessions;
  private readonly sessionResources: SessionResources;
  private readonly idempotency: IdempotencyKeys;
  private readonly files: Files;
  private readonly skills: Skills;
  private readonly memoryStores: MemoryStores;
  private readonly deployments: Deployments;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage, WORKSPACE_MIGRATIONS);
    this.agents = new Agents(ctx.storage);
    this.environments = new Environments(ctx.storage);
    this.vaults = new Vaults(ctx.storage);
    const keys = new VaultKeys(() => this.env, () => ctx.id.name);
    this.credentials = new Credentials(ctx.storage, this.vaults, keys);
    this.files = new Files(ctx.storage);
    this.skills = new Skills(ctx.storage);
    this.memoryStores = new MemoryStores(ctx.storage);
    this.deployments = new Deployments(ctx.storage);
    this.sessionResources = new SessionResources(ctx.storage, keys, (id) => this.sessions.find(id), this.files, this.memoryStores);
    this.sessions = new Sessions(ctx.storage, {
      agents: this.agents,
      environments: this.environments,
      vaults: this.vaults,
      resources: this.sessionResources,
    });
    this.idempotency = new IdempotencyKeys(ctx.storage);
    this.files = new Files(ctx.storage);
  }

  // The RPC surface: one-line forwards to the resource modules, deliberately alike; no logic lives here.

  // ---------- Idempotency-Key records (the API's idempotency middleware is their only caller) ----------

  async claimIdempotencyKey(key: string, request: RequestIdentity): Promise<Claim> {
    return this.idempotency.claim(key, request, Date.now());
  }

  async putIdempotentChunk(key: string, token: string, idx: number, data: Uint8Array): Promise<boolean> {
    return this.idempotency.putChunk(key, token, idx, data);
  }

  async completeIdempotencyKey(key: string, token: string, answer: StoredAnswer): Promise<boolean> {
    return this.idempotency.complete(key, token, answer, Date.now());
  }

  async releaseIdempotencyKey(key: string, token: string): Promise<void> {
    this.idempotency.release(key, token);
  }

  async idempotentChunk(key: string, idx: number): Promise<Uint8Array | null> {
    return this.idempotency.chunk(key, idx);
  }

  // ---------- agents ----------

  async createAgent(p: AgentCreateParams): Promise<Result<Agent>> {
    // Custom skills are pinned to a version when the agent is saved (BetaManagedAgentsCustomSkill is "resolved").
    const skills = this.skills.resolve(p.skills ?? []);
    return skills.ok ? this.agents.create({ ...p, skills: skills.value }) : skills;
  }

  async getAgent(id: string, version?: number): Promise<Result<Agent>> {
    return this.agents.get(id, version);
  }

  async updateAgent(id: string, p: AgentUpdateParams): Promise<Result<Agent>> {
    if (!p.skills) return this.agents.update(id, p);
    const skills = this.skills.resolve(p.skills);
    return skills.ok ? this.agents.update(id, { ...p, skills: skills.value }) : skills;
  }

  async listAgents(args: ListArgs): Promise<Result<Page<Agent>>> {
    return this.agents.list(args);
  }

  async archiveAgent(id: string): Promise<Result<Agent>> {
    return this.agents.archive(id);
  }

  async listAgentVersions(id: string, args: { limit: number; page?: string | undefined }): Promise<Result<Page<Agent>>> {
    return this.agents.versions(id, args);
  }

  // ---------- environments ----------

  async createEnvironment(p: EnvironmentCreateParams): Promise<Result<Environment>> {
    return this.environments.create(p);
  }

  async getEnvironment(id: string): Promise<Result<Environment>> {
    return this.environments.get(id);
  }

  async updateEnvironment(id: string, p: EnvironmentUpdateParams): Promise<Result<Environment>> {
    return this.environments.update(id, p);
  }

  async listEnvironments(args: ListArgs): Promise<Result<Page<Environment>>> {
    return this.environments.list(args);
  }

  async deleteEnvironment(id: string): Promise<Result<{ id: string; type: 'environment_deleted' }>> {
    return this.environments.delete(id);
  }

  async archiveEnvironment(id: string): Promise<Result<Environment>> {
    return this.environments.archive(id);
  }

  // ---------- vaults and their credentials (no response carries a secret) ----------

  async createVault(p: VaultCreateParams): Promise<Result<Vault>> {
    return this.vaults.create(p);
  }

  async getVault(id: string): Promise<Result<Vault>> {
    return this.vaults.get(id);
  }

  async updateVault(id: string, p: VaultUpdateParams): Promise<Result<Vault>> {
    return this.vaults.update(id, p);
  }

  async listVaults(args: ListArgs): Promise<Result<Page<Vault>>> {
    return this.vaults.list(args);
  }

  async deleteVault(id: string): Promise<Result<{ id: string; type: 'vault_deleted' }>> {
    return this.vaults.delete(id);
  }

  async archiveVault(id: string): Promise<Result<Vault>> {
    return this.vaults.archive(id);
  }

  async createCredential(vaultId: string, p: CredentialCreateParams): Promise<Result<Credential>> {
    return this.credentials.create(vaultId, p);
  }

  async getCredential(vaultId: string, id: string): Promise<Result<Credential>> {
    return this.credentials.get(vaultId, id);
  }

  async updateCredential(vaultId: string, id: string, p: CredentialUpdateParams): Promise<Result<Credential>> {
    return this.credentials.update(vaultId, id, p);
  }

  async listCredentials(vaultId: string, args: ListArgs): Promise<Result<Page<Credential>>> {
    return this.credentials.list(vaultId, args);
  }

  async deleteCredential(vaultId: string, id: string): Promise<Result<{ id: string; type: 'vault_credential_deleted' }>> {
    return this.credentials.delete(vaultId, id);
  }

  async archiveCredential(vaultId: string, id: string): Promise<Result<Credential>> {
    return this.credentials.archive(vaultId, id);
  }

  /** The mcp_oauth credential `mcp_oauth_validate` probes, decrypted (see Credentials.forValidation). */
  async mcpCredentialToValidate(vaultId: string, id: string): Promise<Result<McpCredential | null>> {
    return this.credentials.forValidation(vaultId, id);
  }

  /** The usable environment variables of these vaults, decrypted (see Credentials.forSession). */
  async sessionCredentials(vaultIds: string[]): Promise<SandboxCredential[]> {
    return this.credentials.forSession(vaultIds);
  }

  /** The usable MCP credentials of these vaults, decrypted (see Credentials.mcpForSession). */
  async sessionMcpCredentials(vaultIds: string[]): Promise<McpCredential[]> {
    return this.credentials.mcpForSession(vaultIds);
  }

  // ---------- files (metadata; the API keeps the bytes in R2) ----------

  async createFile(file: FileMetadata): Promise<Result<FileMetadata>> {
    return this.files.create(file);
  }

  async getFile(id: string): Promise<Result<FileMetadata>> {
    return this.files.get(id);
  }

  async readableFile(id: string): Promise<Result<FileMetadata>> {
    return this.files.readable(id, Date.now());
  }

  async listFiles(args: FileListArgs): Promise<Result<Page<FileMetadata>>> {
    return this.files.list(args);
  }

  async findFiles(ids: string[]): Promise<Record<string, FileMetadata>> {
    return this.files.findMany(ids);
  }

  async deleteFile(id: string): Promise<Result<DeletedFile>> {
    return this.files.delete(id);
  }

  // ---------- skills (metadata; the API keeps the files' bytes in R2) ----------

  async createSkill(skill: Skill, first: StoredSkillVersion): Promise<Result<Skill>> {
    return this.skills.create(skill, first);
  }

  async addSkillVersion(skillId: string, next: StoredSkillVersion): Promise<Result<SkillVersion>> {
    return this.skills.addVersion(skillId, next);
  }

  async getSkill(id: string): Promise<Result<Skill>> {
    return this.skills.get(id);
  }

  async listSkills(args: { limit: number; page?: string | undefined }): Promise<Result<Page<Skill>>> {
    return this.skills.list(args);
  }

  async deleteSkill(id: string): Promise<Result<{ deleted: DeletedSkill; versions: string[] }>> {
    return this.skills.delete(id);
  }

  async getSkillVersion(skillId: string, version: string): Promise<Result<StoredSkillVersion>> {
    return this.skills.getVersion(skillId, version);
  }

  async listSkillVersions(skillId: string, args: { limit: number; page?: string | undefined }): Promise<Result<Page<SkillVersion>>> {
    return this.skills.listVersions(skillId, args);
  }

  async skillSummaries(entries: Array<{ type: string; skill_id: string; version: string }>): Promise<SkillSummary[]> {
    return this.skills.summaries(entries);
  }

  async deleteSkillVersion(skillId: string, version: string): Promise<Result<{ deleted: DeletedSkillVersion; files: SkillFile[] }>> {
    return this.skills.deleteVersion(skillId, version);
  }

  // ---------- memory stores, their memories and versions ----------

  async createMemoryStore(p: MemoryStoreCreateParams): Promise<Result<MemoryStore>> {
    return this.memoryStores.create(p);
  }

  async getMemoryStore(id: string): Promise<Result<MemoryStore>> {
    return this.memoryStores.get(id);
  }

  async updateMemoryStore(id: string, p: MemoryStoreUpdateParams): Promise<Result<MemoryStore>> {
    return this.memoryStores.update(id, p);
  }

  async listMemoryStores(args: ListArgs): Promise<Result<Page<MemoryStore>>> {
    return this.memoryStores.list(args);
  }

  async deleteMemoryStore(id: string): Promise<Result<DeletedMemoryStore>> {
    return this.memoryStores.delete(id);
  }

  async archiveMemoryStore(id: string): Promise<Result<MemoryStore>> {
    return this.memoryStores.archive(id);
  }

  async createMemory(storeId: string, p: MemoryCreateParams, actor: Actor, view: MemoryView): Promise<Result<Memory>> {
    return this.memoryStores.createMemory(storeId, p, actor, view);
  }

  async getMemory(storeId: string, id: string, view: MemoryView): Promise<Result<Memory>> {
    return this.memoryStores.getMemory(storeId, id, view);
  }

  async updateMemory(storeId: string, id: string, p: MemoryUpdateParams, actor: Actor, view: MemoryView): Promise<Result<Memory>> {
    return this.memoryStores.updateMemory(storeId, id, p, actor, view);
  }

  async listMemories(storeId: string, args: MemoryListArgs): Promise<Result<Page<Memory | MemoryPrefix>>> {
    return this.memoryStores.listMemories(storeId, args);
  }

  async deleteMemory(storeId: string, id: string, expectedSha256: string | undefined, actor: Actor): Promise<Result<DeletedMemory>> {
    return this.memoryStores.deleteMemory(storeId, id, expectedSha256, actor);
  }

  async listMemoryVersions(storeId: string, args: MemoryVersionListArgs): Promise<Result<Page<MemoryVersion>>> {
    return this.memoryStores.listVersions(storeId, args);
  }

  async getMemoryVersion(storeId: string, id: string, view: MemoryView): Promise<Result<MemoryVersion>> {
    return this.memoryStores.getVersion(storeId, id, view);
  }

  async redactMemoryVersion(storeId: string, id: string, actor: Actor): Promise<Result<MemoryVersion>> {
    return this.memoryStores.redactVersion(storeId, id, actor);
  }

  /** A store's memories under a prefix, for a session's sandbox to place (see MemoryStores.memoriesToPlace). */
  async memoriesToPlace(storeId: string, prefix?: string): Promise<Result<MemoryToPlace[]>> {
    return this.memoryStores.memoriesToPlace(storeId, prefix);
  }

  /** What a session's agent wrote under a store's mount, each write a version (see MemoryStores.applySessionWrites). */
  async applySessionMemoryWrites(storeId: string, sessionId: string, writes: MemoryWrite[]): Promise<Result<AppliedWrite[]>> {
    return this.memoryStores.applySessionWrites(storeId, sessionId, writes);
  }

  // ---------- sessions (index; the SessionLog owns status and usage and pushes them here) ----------

  async createSession(p: SessionCreateParams): Promise<Result<Session>> {
    // An override's custom skills are pinned as an agent's are when it is saved.
    if (typeof p.agent === 'string' || p.agent.type !== 'agent_with_overrides' || !p.agent.skills) return this.sessions.createWithResources(p);
    const skills = this.skills.resolve(p.agent.skills, 'agent.skills');
    return skills.ok ? this.sessions.createWithResources({ ...p, agent: { ...p.agent, skills: skills.value } }) : skills;
  }

  async getSession(id: string): Promise<Result<Session>> {
    return this.sessions.get(id);
  }

  async updateSession(id: string, p: SessionUpdateParams): Promise<Result<Session>> {
    return this.sessions.update(id, p);
  }

  async listSessions(q: SessionListQuery): Promise<Result<Page<Session>>> {
    return this.sessions.list(q);
  }

  async archiveSession(id: string): Promise<Result<Session>> {
    return this.sessions.archive(id);
  }

  async deleteSession(id: string): Promise<Result<{ id: string; type: 'session_deleted' }>> {
    const deleted = this.sessions.delete(id);
    if (deleted.ok) this.memoryStores.forgetSession(id);
    return deleted;
  }

  // ---------- a session's resources (no response carries a repository's token) ----------

  async addSessionResource(sessionId: string, p: ResourceAddParams): Promise<Result<FileResource>> {
    return this.sessionResources.add(sessionId, p);
  }

  async getSessionResource(sessionId: string, id: string): Promise<Result<SessionResource>> {
    return this.sessionResources.get(sessionId, id);
  }

  async updateSessionResource(sessionId: string, id: string, p: ResourceUpdateParams): Promise<Result<SessionResource>> {
    return this.sessionResources.update(sessionId, id, p);
  }

  async listSessionResources(sessionId: string, args: ListArgs): Promise<Result<Page<SessionResource>>> {
    return this.sessionResources.list(sessionId, args);
  }

  async deleteSessionResource(sessionId: string, id: string): Promise<Result<{ id: string; type: 'session_resource_deleted' }>> {
    return this.sessionResources.delete(sessionId, id);
  }

  /** The session's repositories with their tokens opened, for its hands to clone (see SessionResources.repositoriesToClone). */
  async sessionRepositories(sessionId: string): Promise<RepositoryToClone[]> {
    return this.sessionResources.repositoriesToClone(sessionId);
  }

  async sessionFiles(sessionId: string): Promise<FileToPlace[]> {
    return this.sessionResources.filesToPlace(sessionId);
  }

  /**
   * The session's memory stores with every memory each holds now, for its hands to mount (a store deleted since is
   * left out). The whole store in one answer: see docs/memory-stores.md on size.
   */
  async sessionMemoryStores(sessionId: string): Promise<Array<{ storeId: string; mountPath: string; access: 'read_write' | 'read_only'; memories: Array<{ path: string; content: string }> }>> {
    return this.sessionResources.memoryStoresToMount(sessionId).flatMap((m) => {
      const memories = this.memoryStores.memoriesToPlace(m.memoryStoreId);
      return memories.ok ? [{ storeId: m.memoryStoreId, mountPath: m.mountPath, access: m.access, memories: memories.value.map((x) => ({ path: x.path, content: x.content })) }] : [];
    });
  }

  /**
   * Saves what one tool call of the session wrote under its memory mounts, once per call id (a repeat answers what
   * the first save did). Only stores the session holds `read_write` take writes; any other is answered with why not.
   */
  async saveSessionMemoryWrites(sessionId: string, callId: string, changes: Array<{ storeId: string; writes: MemoryWrite[] }>): Promise<SavedStoreWrites[]> {
    const writable = new Set(this.sessionResources.memoryStoresToMount(sessionId).filter((m) => m.access === 'read_write').map((m) => m.memoryStoreId));
    const saved = this.memoryStores.applyCallWrites(sessionId, callId, changes.filter((c) => writable.has(c.storeId)));
    const refused = changes.filter((c) => !writable.has(c.storeId)).map((c) => ({ storeId: c.storeId, problem: 'the session does not hold this memory store read_write' }));
    return [...saved, ...refused];
  }

  /** Called by the session's log whenever status or usage changes. */
  async applySessionRuntime(id: string, rt: SessionRuntime): Promise<void> {
    this.sessions.applyRuntime(id, rt);
  }

  // ---------- deployments and their runs (the schedule's alarm: durable-objects/deployment-scheduler.ts) ----------

  async createDeployment(p: DeploymentCreateParams): Promise<Result<{ deployment: Deployment; secret: string | null }>> {
    const refs = await this.deploymentRefs(p);
    if (!refs.ok) return refs;
    const created = this.deployments.create(p, refs.value!);
    if (created.ok) await this.armDeployment(created.value.deployment.id);
    return created;
  }

  async getDeployment(id: string): Promise<Result<Deployment>> {
    return this.deployments.get(id);
  }

  async updateDeployment(id: string, p: DeploymentUpdateParams): Promise<Result<{ deployment: Deployment; secret: string | null }>> {
    const refs = await this.deploymentRefs(p);
    if (!refs.ok) return refs;
    const updated = this.deployments.update(id, p, refs.value);
    if (updated.ok && p.schedule !== undefined) await this.armDeployment(id, true);
    return updated;
  }

  async listDeployments(q: DeploymentListQuery): Promise<Result<Page<Deployment>>> {
    return this.deployments.list(q);
  }

  async archiveDeployment(id: string): Promise<Result<Deployment>> {
    return this.rearmedAfter(id, this.deployments.archive(id));
  }

  async pauseDeployment(id: string): Promise<Result<Deployment>> {
    return this.rearmedAfter(id, this.deployments.pause(id, { type: 'manual' }));
  }

  async unpauseDeployment(id: string): Promise<Result<Deployment>> {
    return this.rearmedAfter(id, this.deployments.unpause(id));
  }

  async regenerateDeploymentSecret(id: string): Promise<Result<{ deployment: Deployment; secret: string }>> {
    return this.deployments.regenerateSecret(id);
  }

  /**
   * An enabled webhook trigger's signing secret, for the inbound route to verify against, and its message template;
   * null when the deployment has no enabled trigger.
   */
  async deploymentWebhook(id: string): Promise<{ secret: string; messageTemplate: string | null } | null> {
    const d = this.deployments.get(id);
    if (!d.ok || d.value.archived_at || !d.value.webhook_trigger?.enabled) return null;
    const secret = this.deployments.secretOf(id);
    return secret ? { secret, messageTemplate: d.value.webhook_trigger.message_template ?? null } : null;
  }

  /** A run for `trigger` now (or the run that trigger already started): `run`, the alarm, a webhook. */
  async runDeployment(id: string, trigger: TriggerContext, extra: EventParams[] = []): Promise<Result<DeploymentRun>> {
    const run = await startRun(this.env, this.ctx.id.name!, this.runWorkspace(), id, trigger, extra);
    // A failed scheduled run pauses the deployment; its alarm goes with it.
    if (trigger.type === 'schedule') await this.armDeployment(id);
    return run;
  }

  /** The scheduler's alarm at `now`: runs the fire that is due, if any; answers when to go off next. */
  async fireDeploymentSchedule(id: string, now: number): Promise<number | null> {
    const due = this.deployments.takeDueFire(id, now);
    if (due !== null) await startRun(this.env, this.ctx.id.name!, this.runWorkspace(), id, { type: 'schedule', scheduled_at: new Date(due).toISOString() });
    return this.deployments.alarmAt(id);
  }

  async getDeploymentRun(id: string): Promise<Result<DeploymentRun>> {
    return this.deployments.getRun(id);
  }

  async listDeploymentRuns(q: DeploymentRunListQuery): Promise<Result<Page<DeploymentRun>>> {
    return this.deployments.listRuns(q);
  }

  /** The agent a deployment pins ("the latest version" for a bare id), checking the agent, environment and vaults exist. */
  private async deploymentRefs(p: DeploymentCreateParams | DeploymentUpdateParams): Promise<Result<AgentReference | undefined>> {
    let agent: AgentReference | undefined;
    if (p.agent !== undefined) {
      const ref = typeof p.agent === 'string' ? { id: p.agent } : p.agent;
      const found = this.agents.get(ref.id, 'version' in ref ? ref.version : undefined);
      if (!found.ok) return { ok: false, error: { type: 'invalid_request_error', message: `agent: ${found.error.message}` } };
      if (found.value.archived_at) return { ok: false, error: { type: 'invalid_request_error', message: `agent: agent '${ref.id}' is archived` } };
      agent = { type: 'agent', id: found.value.id, version: found.value.version };
    }
    if (p.environment_id !== undefined) {
      const env = this.environments.get(p.environment_id);
      if (!env.ok) return { ok: false, error: { type: 'invalid_request_error', message: `environment_id: ${env.error.message}` } };
      if (env.value.archived_at) return { ok: false, error: { type: 'invalid_request_error', message: `environment_id: environment '${p.environment_id}' is archived` } };
    }
    for (const [i, id] of (p.vault_ids ?? []).entries()) {
      const vault = this.vaults.get(id);
      if (!vault.ok) return { ok: false, error: { type: 'invalid_request_error', message: `vault_ids[${i}]: ${vault.error.message}` } };
    }
    return { ok: true, value: agent };
  }

  private async rearmedAfter(id: string, r: Result<Deployment>): Promise<Result<Deployment>> {
    if (r.ok) await this.armDeployment(id);
    return r;
  }

  /** Sets the deployment's alarm for its next fire, or clears it; `always` also when it has no schedule (one just removed). */
  private async armDeployment(id: string, always = false): Promise<void> {
    const at = this.deployments.alarmAt(id);
    const d = this.deployments.get(id);
    // A deployment never scheduled has no scheduler object to clear.
    if (!always && at === null && d.ok && !d.value.schedule) return;
    await deploymentScheduler(this.env, this.ctx.id.name!, id).arm({ workspaceId: this.ctx.id.name!, deploymentId: id }, at);
  }

  private runWorkspace(): RunWorkspace {
    return {
      deployments: this.deployments,
      getAgent: async (id, version) => this.agents.get(id, version),
      getEnvironment: async (id) => this.environments.get(id),
      getVault: async (id) => this.vaults.get(id),
      createSession: (p) => this.createSession(p),
      deleteSession: (id) => this.deleteSession(id),
      skillSummaries: (e) => this.skillSummaries(e),
      waitUntil: (p) => this.ctx.waitUntil(p),
    };
  }
}
