// The session index: what the API lists and retrieves of each session. Creating a session resolves its agent
// (a pinned version, with any overrides) and checks its environment and vaults; after that its SessionLog owns
// status and usage and pushes them here (applyRuntime).
import { pinForSession } from '../../contract/multiagent.ts';
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import { checkAgentDefinition, normalizeTools, updateModel, type Agent, type AgentDefinition } from '../../contract/agent.ts';
import type { Page } from '../../contract/common.ts';
import {
  emptyUsage,
  type AgentRef,
  type Session,
  type SessionAgent,
  type SessionCreateParams,
  type SessionListQuery,
  type SessionRuntime,
  type SessionUpdateParams,
} from '../../contract/session.ts';
import { MAX_AGENT_BYTES, MAX_ROW_BYTES, storedSizeProblem } from '../../contract/size-limits.ts';
import type { Agents } from '../agents/agents.ts';
import type { Environments } from '../environments/environments.ts';
import type { Vaults } from '../vaults/vaults.ts';
import type { PreparedResources, SessionResources } from '../session-resources/session-resources.ts';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { bothWays, createdAtFilters } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { archiveRow, deserialise, readBody, serialise, timestamp, touched, writeBody } from '../shared/rows.ts';

const TABLE = 'sessions';

const notFound = (id: string): Result<never> => fail('not_found_error', `session '${id}' not found`);

/** What a session is made from: the workspace's agents, environments and vaults; and where its resources live. */
export interface SessionSources {
  agents: Agents;
  environments: Environments;
  vaults: Vaults;
  resources: SessionResources;
}

export class Sessions extends Queries {
  private readonly sources: SessionSources;

  constructor(storage: DurableObjectStorage, sources: SessionSources) {
    super(storage);
    this.sources = sources;
  }

  /**
   * create, with `resources`: they are checked and their tokens sealed first (the only await), then everything is
   * checked and stored in one transaction, so a refused create leaves nothing behind.
   */
  async createWithResources(p: SessionCreateParams): Promise<Result<Session>> {
    const prepared = await this.sources.resources.prepare(p.resources ?? []);
    if (!prepared.ok) return prepared;
    return this.create(p, prepared.value);
  }

  /**
   * Resolves the agent (pinned version, optional overrides) and environment, and records the session with its
   * prepared resources (createWithResources; none by default).
   */
  create(p: SessionCreateParams, prepared: PreparedResources = { sessionId: newId('sesn'), rows: [] }): Result<Session> {
    const resolved = this.resolveAgent(p.agent);
    if (!resolved.ok) return resolved;
    const sessionAgent = resolved.value;
    const env = this.sources.environments.find(p.environment_id);
    if (!env) return fail('not_found_error', `environment_id: environment '${p.environment_id}' not found`, 'environment_not_found');
    if (env.archived_at) return fail('invalid_request_error', `environment_id: environment '${p.environment_id}' is archived`, 'environment_archived');
    const vaults = this.vaultsProblem(p.vault_ids ?? []);
    if (vaults) return vaults;

    // The snapshot is copied into the session's row and its log's state: an agent stored before the limits
    // existed, or grown by overrides, is refused here rather than failing to be written.
    const agentTooBig = storedSizeProblem(sessionAgent, MAX_AGENT_BYTES, `agent '${sessionAgent.id}' (version ${sessionAgent.version})`, 'agent');
    if (agentTooBig) return fail('invalid_request_error', `${agentTooBig}; shrink it with an agent update, or override the field`);
    const now = timestamp();
    const session: Session = {
      type: 'session',
      id: prepared.sessionId,
      agent: sessionAgent,
      environment_id: env.id,
      title: p.title ?? null,
      metadata: p.metadata ?? {},
      budget: p.budget ?? null,
      limits: p.limits ?? {},
      compaction: p.compaction ?? {},
      // The resources are their own rows (resources/session-resources/), filled in as the session is read.
      resources: [],
      vault_ids: p.vault_ids ?? [],
      outcome_evaluations: [],
      status: 'idle',
      usage: emptyUsage(),
      stats: { active_seconds: 0, duration_seconds: 0 },
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const tooBig = storedSizeProblem(session, MAX_ROW_BYTES, 'session');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO sessions (id, created_at, agent_id, agent_version, status, body) VALUES (?, ?, ?, ?, ?, ?)`,
        session.id,
        now,
        sessionAgent.id,
        sessionAgent.version,
        session.status,
        serialise(session),
      );
      this.sources.resources.insert(prepared);
    });
    return ok(this.present(session));
  }

  // get and update read as they do in every resource module, deliberately: the not-found error and the
  // field rules are each resource's own.
  get(id: string): Result<Session> {
    const s = this.find(id);
    return s ? ok(this.present(s)) : notFound(id);
  }

  update(id: string, p: SessionUpdateParams): Result<Session> {
    const s = this.find(id);
    if (!s) return notFound(id);
    const next: Session = { ...s };
    // As create stores it: a string (an empty one too) is the title, null clears it.
    if (p.title !== undefined) next.title = p.title;
    if (p.budget !== undefined) {
      const refused = budgetChangeProblem(s, p.budget);
      if (refused) return refused;
      next.budget = p.budget;
    }
    if (p.limits !== undefined) next.limits = p.limits ?? {};
    if (p.agent) {
      // official: "The session must not be running."
      if (s.status === 'running')
        return fail('invalid_request_error', `agent: session '${id}' is running; change its agent once it is idle (or interrupt it)`, 'session_running');
      const agent = { ...s.agent };
      if (p.agent.tools !== undefined) agent.tools = normalizeTools(p.agent.tools);
      if (p.agent.mcp_servers !== undefined) agent.mcp_servers = p.agent.mcp_servers;
      const problem = checkAgentDefinition(agent) ?? storedSizeProblem(agent, MAX_AGENT_BYTES, 'agent', 'agent');
      if (problem) return fail('invalid_request_error', problem.startsWith('agent') ? problem : `agent.${problem}`);
      next.agent = agent;
    }
    const metadata = applyMetadataPatch(s.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    const stored = touched(next);
    const tooBig = storedSizeProblem(stored, MAX_ROW_BYTES, 'session');
    if (tooBig) return fail('invalid_request_error', tooBig);
    writeBody(this.sql, TABLE, stored);
    return ok(this.present(stored));
  }

  list(q: SessionListQuery): Result<Page<Session>> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (!q.include_archived) where.push('archived_at IS NULL');
    if (q.agent_id) {
      where.push('agent_id = ?');
      params.push(q.agent_id);
    }
    if (q.agent_version !== undefined) {
      where.push('agent_version = ?');
      params.push(q.agent_version);
    }
    const statuses = q['statuses[]'];
    if (statuses?.length) {
      where.push(`status IN (${statuses.map(() => '?').join(',')})`);
      params.push(...statuses);
    }
    const range = createdAtFilters({
      createdGt: q['created_at[gt]'],
      createdGte: q['created_at[gte]'],
      createdLt: q['created_at[lt]'],
      createdLte: q['created_at[lte]'],
    });
    if (!range.ok) return range;
    where.push(...range.value.where);
    params.push(...range.value.params);
    if (q.memory_store_id) {
      where.push(`id IN (SELECT session_id FROM session_resources WHERE json_extract(body, '$.memory_store_id') = ?)`);
      params.push(q.memory_store_id);
    }
    // Deployments do not exist in this runtime: such a filter matches nothing.
    if (q.deployment_id) where.push('0');
    const page = bothWays<{ body: string }>(this.sql, { from: TABLE, columns: 'body', where, params }, q, (r) => r.body.length);
    if (!page.ok) return page;
    return ok({ ...page.value, data: page.value.data.map((r) => this.present(deserialise<Session>(r.body))) });
  }

  archive(id: string): Result<Session> {
    const s = this.find(id);
    if (!s) return notFound(id);
    return ok(this.present(archiveRow(this.sql, TABLE, s)));
  }

  delete(id: string): Result<{ id: string; type: 'session_deleted' }> {
    if (!this.find(id)) return notFound(id);
    this.storage.transactionSync(() => {
      this.sources.resources.deleteAll(id);
      this.sql.exec(`DELETE FROM sessions WHERE id = ?`, id);
    });
    return ok({ id, type: 'session_deleted' });
  }

  /** What the session's log reports: status and usage. A session deleted meanwhile is left deleted. */
  applyRuntime(id: string, rt: SessionRuntime): void {
    const s = this.find(id);
    if (!s) return;
    const next: Session = { ...s, ...rt };
    this.sql.exec(`UPDATE sessions SET status = ?, body = ? WHERE id = ?`, rt.status, serialise(next), id);
  }

  /** The session as stored (its `resources` left empty; see present). */
  find(id: string): Session | undefined {
    return readBody<Session>(this.sql, TABLE, id);
  }

  /** The session as responses show it: with its resources. */
  private present(s: Session): Session {
    return { ...s, resources: this.sources.resources.all(s.id) };
  }

  /** The agent a session runs: the pinned (or latest) version of an active agent, with the overrides applied. */
  private resolveAgent(agentRef: SessionCreateParams['agent']): Result<SessionAgent> {
    const ref: Exclude<AgentRef, string> = typeof agentRef === 'string' ? { type: 'agent', id: agentRef } : agentRef;
    const head = this.sources.agents.head(ref.id);
    if (!head) return fail('not_found_error', `agent: agent '${ref.id}' not found`);
    if (head.archived_at) return fail('invalid_request_error', `agent: agent '${ref.id}' is archived`);
    const version = ref.version ?? head.version;
    const agent = this.sources.agents.version(ref.id, version);
    if (!agent) return fail('not_found_error', `agent.version: agent '${ref.id}' has no version ${version}`);
    let def: AgentDefinition = pickDefinition(agent);
    if (ref.type === 'agent_with_overrides') {
      def = { ...def };
      if (ref.model !== undefined) def.model = updateModel(def.model, ref.model);
      if (ref.system !== undefined) def.system = ref.system || null;
      if (ref.tools !== undefined) def.tools = normalizeTools(ref.tools);
      if (ref.mcp_servers !== undefined) def.mcp_servers = ref.mcp_servers;
      if (ref.skills !== undefined)
        def.skills = ref.skills.map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? 'latest' }));
      const problem = checkAgentDefinition(def);
      if (problem) return fail('invalid_request_error', `agent.${problem}`);
    }
    // The agents its threads may run are pinned now, as they are at this moment (contract/multiagent.ts).
    const multiagent = pinForSession(def.multiagent, (r) => {
      const head = this.sources.agents.head(r.id);
      const pinned = this.sources.agents.version(r.id, r.version);
      if (!head || !pinned) return `agent '${r.id}' version ${r.version} not found`;
      if (head.archived_at && r.id !== agent.id) return `agent '${r.id}' is archived`;
      const { multiagent: _depthLimit, ...rest } = pickDefinition(pinned);
      return { type: 'agent', id: r.id, version: r.version, ...rest };
    });
    if (!multiagent.ok) return fail('invalid_request_error', multiagent.message);
    return ok({ type: 'agent', id: agent.id, version, ...def, multiagent: multiagent.value });
  }

  /** Every id names a vault of this workspace, active, listed once. Another workspace's vault is not found here. */
  private vaultsProblem(vaultIds: string[]): Result<never> | null {
    const seen = new Set<string>();
    for (const [i, id] of vaultIds.entries()) {
      if (seen.has(id)) return fail('invalid_request_error', `vault_ids[${i}]: vault '${id}' is listed more than once`);
      seen.add(id);
      const vault = this.sources.vaults.find(id);
      if (!vault) return fail('not_found_error', `vault_ids[${i}]: vault '${id}' not found`);
      if (vault.archived_at) return fail('invalid_request_error', `vault_ids[${i}]: vault '${id}' is archived`);
    }
    return null;
  }
}

function pickDefinition(a: Agent): AgentDefinition {
  return {
    name: a.name,
    description: a.description,
    model: a.model,
    system: a.system,
    tools: a.tools,
    mcp_servers: a.mcp_servers,
    skills: a.skills,
    execution_identity: a.execution_identity,
    multiagent: a.multiagent,
  };
}

/**
 * The SDK's rules for changing a session's budget: allowed in any status but `terminated`; a budget cannot be added
 * to a session without one (never set, or removed), and a new ceiling must stay above what the session has spent.
 */
function budgetChangeProblem(s: Session, budget: Session['budget']): Result<never> | null {
  if (s.status === 'terminated') return fail('invalid_request_error', `budget: session '${s.id}' is terminated`);
  if (budget === null) return null;
  if (s.budget === null)
    return fail(
      'invalid_request_error',
      'budget: this session has no budget; a budget can only be set when a session is created, and one removed cannot be added back',
      'budget_create_only',
    );
  const spent = s.usage.list_cost.amount;
  if (Number(budget.max_list_cost.amount) <= Number(spent))
    return fail(
      'invalid_request_error',
      `budget.max_list_cost.amount: ${budget.max_list_cost.amount} USD is at or below what the session has already spent (${spent} USD)`,
      'budget_not_raised',
    );
  return null;
}
