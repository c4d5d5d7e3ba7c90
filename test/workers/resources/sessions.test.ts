// The session index queried directly: a session pins its agent's version (or the one asked for) with any
// overrides, refuses what it cannot run on, lists by agent and status in either order, and takes the status and
// usage its log reports.
import { describe, expect, it } from 'vitest';
import { emptyUsage } from '../../../contract/session.ts';
import { inWorkspace, modules, refusal, value } from './workspace.ts';

function setup(storage: DurableObjectStorage) {
  const m = modules(storage);
  const agent = value(m.agents.create({ name: 'a', model: 'claude-sonnet-5-5', system: 'v1' }));
  value(m.agents.update(agent.id, { system: 'v2' }));
  const env = value(m.environments.create({ name: 'e' }));
  return { ...m, agentId: agent.id, environmentId: env.id };
}

describe('session index', () => {
  it('pins the agent’s latest version, or the version asked for, with overrides applied', () =>
    inWorkspace('sessions_pin', (storage) => {
      const { sessions, agentId, environmentId } = setup(storage);
      expect(value(sessions.create({ agent: agentId, environment_id: environmentId })).agent).toMatchObject({ id: agentId, version: 2, system: 'v2' });
      expect(value(sessions.create({ agent: { type: 'agent', id: agentId, version: 1 }, environment_id: environmentId })).agent).toMatchObject({
        version: 1,
        system: 'v1',
      });
      const overridden = value(
        sessions.create({ agent: { type: 'agent_with_overrides', id: agentId, system: null, skills: [{ type: 'anthropic', skill_id: 'pdf' }] }, environment_id: environmentId }),
      );
      expect(overridden.agent).toMatchObject({ version: 2, system: null, skills: [{ type: 'anthropic', skill_id: 'pdf', version: 'latest' }] });
    }));

  it('refuses an archived or missing agent, environment or vault, naming the field', () =>
    inWorkspace('sessions_refuse', (storage) => {
      const { sessions, agents, environments, vaults, agentId, environmentId } = setup(storage);
      expect(refusal(sessions.create({ agent: 'agent_missing', environment_id: environmentId })).message).toBe("agent: agent 'agent_missing' not found");
      expect(refusal(sessions.create({ agent: { type: 'agent', id: agentId, version: 9 }, environment_id: environmentId })).message).toBe(
        `agent.version: agent '${agentId}' has no version 9`,
      );
      expect(refusal(sessions.create({ agent: agentId, environment_id: 'env_missing' }))).toMatchObject({ code: 'environment_not_found' });
      const vault = value(vaults.create({ display_name: 'v' }));
      expect(refusal(sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vault.id, vault.id] })).message).toBe(
        `vault_ids[1]: vault '${vault.id}' is listed more than once`,
      );
      value(vaults.archive(vault.id));
      expect(refusal(sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vault.id] })).message).toBe(
        `vault_ids[0]: vault '${vault.id}' is archived`,
      );
      value(environments.archive(environmentId));
      expect(refusal(sessions.create({ agent: agentId, environment_id: environmentId }))).toMatchObject({ code: 'environment_archived' });
      value(agents.archive(agentId));
      expect(refusal(sessions.create({ agent: agentId, environment_id: environmentId })).message).toBe(`agent: agent '${agentId}' is archived`);
      expect(value(sessions.list({ limit: 10, order: 'desc' })).data).toEqual([]);
    }));

  it('lists by agent, version and status, newest first or oldest first', () =>
    inWorkspace('sessions_list', (storage) => {
      const { sessions, agents, agentId, environmentId } = setup(storage);
      const other = value(agents.create({ name: 'b', model: 'claude-sonnet-5-5' }));
      const s1 = value(sessions.create({ agent: { type: 'agent', id: agentId, version: 1 }, environment_id: environmentId }));
      const s2 = value(sessions.create({ agent: agentId, environment_id: environmentId }));
      const s3 = value(sessions.create({ agent: other.id, environment_id: environmentId }));
      sessions.applyRuntime(s2.id, { status: 'running', usage: emptyUsage(), stats: { active_seconds: 1, duration_seconds: 2 }, updated_at: s2.updated_at });
      const ids = (q: Partial<Parameters<typeof sessions.list>[0]>) => value(sessions.list({ limit: 10, order: 'desc', ...q })).data.map((s) => s.id);
      expect(ids({})).toEqual([s3.id, s2.id, s1.id]);
      expect(ids({ order: 'asc' })).toEqual([s1.id, s2.id, s3.id]);
      expect(ids({ agent_id: agentId })).toEqual([s2.id, s1.id]);
      expect(ids({ agent_id: agentId, agent_version: 1 })).toEqual([s1.id]);
      expect(ids({ 'statuses[]': ['running'] })).toEqual([s2.id]);
      expect(ids({ memory_store_id: 'memstore_x' })).toEqual([]);
      expect(value(sessions.get(s2.id))).toMatchObject({ status: 'running', stats: { active_seconds: 1 } });
    }));

  it('archives and deletes; a status report for a deleted session is dropped', () =>
    inWorkspace('sessions_archive', (storage) => {
      const { sessions, agentId, environmentId } = setup(storage);
      const s = value(sessions.create({ agent: agentId, environment_id: environmentId }));
      const archived = value(sessions.archive(s.id));
      expect(archived.archived_at).toBe(archived.updated_at);
      expect(value(sessions.list({ limit: 10, order: 'desc', include_archived: true })).data).toEqual([archived]);
      expect(value(sessions.delete(s.id))).toEqual({ id: s.id, type: 'session_deleted' });
      sessions.applyRuntime(s.id, { status: 'idle', usage: emptyUsage(), stats: { active_seconds: 0, duration_seconds: 0 }, updated_at: s.updated_at });
      expect(sessions.find(s.id)).toBeUndefined();
    }));
});
