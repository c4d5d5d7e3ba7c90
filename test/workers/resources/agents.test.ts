// The agents module queried directly: versions made only by a change, the optimistic `version` check, archive
// state shown on every version, lists newest first at each agent's latest version.
import { describe, expect, it } from 'vitest';
import { Agents } from '../../../resources/agents/agents.ts';
import { inWorkspace, refusal, value } from './workspace.ts';

const params = { name: 'a', model: 'claude-sonnet-5-5' };

describe('agents', () => {
  it('stores a created agent at version 1 and reads it back', () =>
    inWorkspace('agents_create', (storage) => {
      const agents = new Agents(storage);
      const agent = value(agents.create({ ...params, system: 'Be brief.', metadata: { team: 'x' } }));
      expect(agent).toMatchObject({ type: 'agent', version: 1, name: 'a', system: 'Be brief.', metadata: { team: 'x' }, archived_at: null });
      expect(value(agents.get(agent.id))).toEqual(agent);
      expect(refusal(agents.get('agent_missing'))).toEqual({ type: 'not_found_error', message: "agent 'agent_missing' not found" });
    }));

  it('makes a new version for a change and none for an update that changes nothing', () =>
    inWorkspace('agents_versions', (storage) => {
      const agents = new Agents(storage);
      const agent = value(agents.create(params));
      expect(value(agents.update(agent.id, { name: 'a' })).version).toBe(1);
      const v2 = value(agents.update(agent.id, { name: 'b' }));
      expect(v2).toMatchObject({ version: 2, name: 'b' });
      expect(value(agents.get(agent.id, 1)).name).toBe('a');
      expect(value(agents.get(agent.id)).version).toBe(2);
      expect(refusal(agents.get(agent.id, 7)).message).toBe(`agent '${agent.id}' has no version 7 (latest is 2)`);
    }));

  it('refuses an update naming a version that is not the current one', () =>
    inWorkspace('agents_conflict', (storage) => {
      const agents = new Agents(storage);
      const agent = value(agents.create(params));
      value(agents.update(agent.id, { name: 'b', version: 1 }));
      expect(refusal(agents.update(agent.id, { name: 'c', version: 1 }))).toMatchObject({ type: 'conflict_error' });
      expect(value(agents.get(agent.id)).name).toBe('b');
    }));

  it('refuses definitions the schema cannot check: an MCP server no toolset uses', () =>
    inWorkspace('agents_definition', (storage) => {
      const agents = new Agents(storage);
      const r = agents.create({ ...params, mcp_servers: [{ type: 'url', name: 'srv', url: 'https://mcp.example.com' }] });
      expect(refusal(r).message).toBe("mcp_servers[0]: server 'srv' is not referenced by any mcp_toolset in tools");
    }));

  it('archives: every version reads back archived, updates are refused, lists leave it out unless asked', () =>
    inWorkspace('agents_archive', (storage) => {
      const agents = new Agents(storage);
      const agent = value(agents.create(params));
      value(agents.update(agent.id, { name: 'b' }));
      const archived = value(agents.archive(agent.id));
      expect(archived.archived_at).not.toBeNull();
      expect(value(agents.archive(agent.id))).toEqual(archived);
      expect(value(agents.get(agent.id, 1)).archived_at).toBe(archived.archived_at);
      expect(refusal(agents.update(agent.id, { name: 'c' })).message).toBe(`agent '${agent.id}' is archived and cannot be updated`);
      expect(value(agents.list({ limit: 10 })).data).toEqual([]);
      expect(value(agents.list({ limit: 10, includeArchived: true })).data).toEqual([archived]);
    }));

  it('lists each agent at its latest version, newest agent first, and its versions latest first', () =>
    inWorkspace('agents_list', (storage) => {
      const agents = new Agents(storage);
      const first = value(agents.create({ ...params, name: 'first' }));
      const second = value(agents.create({ ...params, name: 'second' }));
      value(agents.update(first.id, { name: 'first, renamed' }));
      const page = value(agents.list({ limit: 1 }));
      expect(page.data.map((a) => a.name)).toEqual(['second']);
      expect(value(agents.list({ limit: 1, page: page.next_page! })).data.map((a) => [a.name, a.version])).toEqual([['first, renamed', 2]]);
      expect(second.version).toBe(1);
      const versions = value(agents.versions(first.id, { limit: 1 }));
      expect(versions.data.map((a) => a.version)).toEqual([2]);
      expect(value(agents.versions(first.id, { limit: 1, page: versions.next_page! }))).toMatchObject({ data: [{ version: 1 }], next_page: null });
    }));
});
