// Agents and all their versions. A change makes a new version; old versions stay readable (sessions pin them).
// Archive state lives on the head row only, so every version reads back with the agent's current archived_at.
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import {
  applyAgentUpdate,
  buildDefinition,
  checkAgentDefinition,
  type Agent,
  type AgentCreateParams,
  type AgentUpdateParams,
} from '../../contract/agent.ts';
import type { Page } from '../../contract/common.ts';
import { resolveMultiagent, type MultiagentParams, type RosterLookup } from '../../contract/multiagent.ts';
import { MAX_AGENT_BYTES, storedSizeProblem } from '../../contract/size-limits.ts';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { listFilters, newestFirst, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { deserialise, serialise, timestamp } from '../shared/rows.ts';

export interface AgentHead {
  version: number;
  archived_at: string | null;
}

const notFound = (id: string): Result<never> => fail('not_found_error', `agent '${id}' not found`);

export class Agents extends Queries {
  create(p: AgentCreateParams): Result<Agent> {
    const def = buildDefinition(p);
    const problem = checkAgentDefinition(def);
    if (problem) return fail('invalid_request_error', problem);
    const id = newId('agent');
    const multiagent = this.resolveMultiagent(p.multiagent, null, { id, version: 1 });
    if (!multiagent.ok) return multiagent;
    def.multiagent = multiagent.value;
    const now = timestamp();
    const agent: Agent = {
      type: 'agent',
      id,
      version: 1,
      ...def,
      metadata: p.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const tooBig = storedSizeProblem(agent, MAX_AGENT_BYTES, 'agent');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.storage.transactionSync(() => {
      this.sql.exec(`INSERT INTO agents (id, version, created_at) VALUES (?, 1, ?)`, agent.id, now);
      this.sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, 1, ?)`, agent.id, serialise(agent));
    });
    return ok(agent);
  }

  /** The latest version, or the one asked for. */
  get(id: string, version?: number): Result<Agent> {
    const head = this.head(id);
    if (!head) return notFound(id);
    const v = version ?? head.version;
    const agent = this.version(id, v);
    if (!agent) return fail('not_found_error', `agent '${id}' has no version ${v} (latest is ${head.version})`);
    return ok({ ...agent, archived_at: head.archived_at });
  }

  /** A change makes a new version; `version`, when given, must be the current one (optimistic concurrency). */
  update(id: string, p: AgentUpdateParams): Result<Agent> {
    const head = this.head(id);
    if (!head) return notFound(id);
    if (head.archived_at) return fail('invalid_request_error', `agent '${id}' is archived and cannot be updated`);
    if (p.version !== undefined && p.version !== head.version)
      return fail('conflict_error', `version: agent '${id}' is at version ${head.version}, not ${p.version}; retrieve it and retry`);
    const current = this.version(id, head.version);
    if (!current) return notFound(id);
    const def = applyAgentUpdate(current, p);
    const problem = checkAgentDefinition(def);
    if (problem) return fail('invalid_request_error', problem);
    if (p.multiagent !== undefined) {
      const multiagent = this.resolveMultiagent(p.multiagent, current.multiagent, { id, version: head.version + 1 });
      if (!multiagent.ok) return multiagent;
      def.multiagent = multiagent.value;
    }
    const metadata = applyMetadataPatch(current.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    const next: Agent = { ...current, ...def, metadata };
    // Nothing changed: no new version.
    if (serialise(next) === serialise(current)) return ok({ ...current, archived_at: head.archived_at });
    next.version = head.version + 1;
    next.updated_at = timestamp();
    const tooBig = storedSizeProblem(next, MAX_AGENT_BYTES, 'agent');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.storage.transactionSync(() => {
      this.sql.exec(`UPDATE agents SET version = ? WHERE id = ?`, next.version, id);
      this.sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, ?, ?)`, id, next.version, serialise(next));
    });
    return ok(next);
  }

  /** Each agent at its latest version, newest agent first. */
  list(args: ListArgs): Result<Page<Agent>> {
    const filters = listFilters(args);
    if (!filters.ok) return filters;
    const page = newestFirst<{ body: string; archived_at: string | null }>(
      this.sql,
      {
        from: 'agents JOIN agent_versions ON agent_versions.agent_id = agents.id AND agent_versions.version = agents.version',
        columns: 'body, archived_at',
        ...filters.value,
      },
      args,
      (r) => r.body.length,
    );
    if (!page.ok) return page;
    const data = page.value.rows.map((r) => ({ ...deserialise<Agent>(r.body), archived_at: r.archived_at }));
    return ok({ data, next_page: page.value.next });
  }

  /** Archiving keeps every version readable; an archived agent takes no updates and no new sessions. */
  archive(id: string): Result<Agent> {
    const head = this.head(id);
    if (!head) return notFound(id);
    if (!head.archived_at) this.sql.exec(`UPDATE agents SET archived_at = ? WHERE id = ?`, timestamp(), id);
    return this.get(id);
  }

  /** The agent's versions, latest first. */
  versions(id: string, args: { limit: number; page?: string | undefined }): Result<Page<Agent>> {
    const head = this.head(id);
    if (!head) return notFound(id);
    const page = newestFirst<{ body: string }>(
      this.sql,
      { from: 'agent_versions', columns: 'body', where: ['agent_id = ?'], params: [id] },
      args,
      (r) => r.body.length,
      'version',
    );
    if (!page.ok) return page;
    const data = page.value.rows.map((r) => ({ ...deserialise<Agent>(r.body), archived_at: head.archived_at }));
    return ok({ data, next_page: page.value.next });
  }

  /** `multiagent` as stored: each agent it names found in this workspace and pinned to a version (contract/multiagent.ts). */
  private resolveMultiagent(p: MultiagentParams | null | undefined, stored: Agent['multiagent'], self: { id: string; version: number }): Result<Agent['multiagent']> {
    const lookup: RosterLookup = (id, version) => {
      const head = this.head(id);
      if (!head) return { missing: 'agent' };
      const agent = this.version(id, version ?? head.version);
      if (!agent) return { missing: 'version' };
      return { id, version: agent.version, archived: head.archived_at !== null, hasMultiagent: agent.multiagent !== null };
    };
    const r = resolveMultiagent(p ?? null, stored, lookup, self);
    return r.ok ? ok(r.value) : fail(r.notFound ? 'not_found_error' : 'invalid_request_error', r.message);
  }

  /** The current version number and archive state, for callers that pin a version (sessions). */
  head(id: string): AgentHead | undefined {
    return this.sql.exec<{ version: number; archived_at: string | null }>(`SELECT version, archived_at FROM agents WHERE id = ?`, id).toArray()[0];
  }

  /** One version as stored (its archived_at is the one it was written with; see get). */
  version(id: string, version: number): Agent | undefined {
    const row = this.sql
      .exec<{ body: string }>(`SELECT body FROM agent_versions WHERE agent_id = ? AND version = ?`, id, version)
      .toArray()[0];
    return row ? deserialise<Agent>(row.body) : undefined;
  }
}
