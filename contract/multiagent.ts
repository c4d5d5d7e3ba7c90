// An agent's `multiagent`: the request shapes (`multiagent_20261001` and the older `coordinator`), the resolved form
// an agent stores (every roster entry pinned to an agent version), and the rules that resolve one into the other
// (agents.d.ts). What a session runs of it is in docs/threads.md.
import { z } from 'zod';
import type * as Agents from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { AgentDefinition } from './agent.ts';
import type { Assignable } from './common.ts';
import { jsonAtMost, LIMITS } from './size-limits.ts';

const Id = z.string().min(1).max(LIMITS.id);
/** The tool a session's primary thread starts and messages sub-agent threads with (worker/brain/delegate-tool.ts). */
export const DELEGATE_TOOL = 'delegate';
/** At most 20 agents in a roster or a `predefined_agents` list (official). */
export const MAX_ROSTER = 20;

const AgentEntry = z.union([
  Id,
  z.strictObject({ type: z.literal('agent'), id: Id, version: z.number().int().min(1).optional() }),
  z.strictObject({ type: z.literal('self') }),
]);
const AdvisorEntry = z.strictObject({ type: z.literal('advisor'), model: z.string().min(1).max(LIMITS.name) });
const Toggle = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('enabled') }), z.strictObject({ type: z.literal('disabled') })]);
const Members = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('enabled'),
    inline_agents: Toggle.nullable().optional(),
    predefined_agents: z.array(AgentEntry).max(MAX_ROSTER).nullable().optional(),
  }),
  z.strictObject({ type: z.literal('disabled') }),
]);
const Advisor = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('enabled'), model: z.string().min(1).max(LIMITS.name) }),
  z.strictObject({ type: z.literal('disabled') }),
]);

export const MultiagentParams = jsonAtMost(
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('coordinator'), agents: z.array(z.union([AgentEntry, AdvisorEntry])).min(1).max(MAX_ROSTER) }),
    z.strictObject({
      type: z.literal('multiagent_20261001'),
      advisor: Advisor.nullable().optional(),
      subagents: Members.nullable().optional(),
      workflows: Members.nullable().optional(),
    }),
  ]),
  LIMITS.multiagentBytes,
);
export type MultiagentParams = z.infer<typeof MultiagentParams>;
type AgentEntry = z.infer<typeof AgentEntry>;
type MembersParams = z.infer<typeof Members>;

// ---- the stored form (BetaManagedAgentsMultiagent) ----

export interface AgentReference {
  type: 'agent';
  id: string;
  version: number;
}
type Toggle = { type: 'enabled' } | { type: 'disabled' };
export type ResolvedMembers = { type: 'enabled'; inline_agents: Toggle; predefined_agents: AgentReference[] } | { type: 'disabled' };
export type Multiagent =
  | { type: 'coordinator'; agents: Array<AgentReference | { type: 'advisor'; model: string }> }
  | { type: 'multiagent_20261001'; advisor: { type: 'enabled'; model: string } | { type: 'disabled' }; subagents: ResolvedMembers; workflows: ResolvedMembers };
export type MultiagentIsOfficial = Assignable<Multiagent, Agents.BetaManagedAgentsAgent['multiagent'] & {}>;

/** What resolving a roster needs to know of an agent it names: the version asked for (or the latest). */
export interface RosterAgent {
  id: string;
  version: number;
  archived: boolean;
  hasMultiagent: boolean;
}
export type RosterLookup = (id: string, version?: number) => RosterAgent | { missing: 'agent' | 'version' };
export type Resolved = { ok: true; value: Multiagent | null } | { ok: false; notFound: boolean; message: string };

/**
 * Resolves `multiagent` as sent (on create, or on update over `stored`) into the stored form: each entry an agent
 * that exists, is not archived and has no `multiagent` of its own (depth limit 1), pinned to a version; `self` is
 * the agent being written (its thread runs without `multiagent`). Messages name the field.
 */
export function resolveMultiagent(p: MultiagentParams | null, stored: Multiagent | null, lookup: RosterLookup, self: { id: string; version: number }): Resolved {
  if (p === null) return { ok: true, value: null };
  const bad = (message: string, notFound = false): Resolved => ({ ok: false, notFound, message });
  const resolveList = (entries: Array<AgentEntry>, field: string): AgentReference[] | Resolved => {
    const out: AgentReference[] = [];
    let selves = 0;
    for (const [i, e] of entries.entries()) {
      const at = `multiagent.${field}[${i}]`;
      let ref: AgentReference;
      if (typeof e !== 'string' && e.type === 'self') {
        if (++selves > 1) return bad(`${at}: at most one 'self' entry`);
        ref = { type: 'agent', ...self };
      } else {
        const id = typeof e === 'string' ? e : e.id;
        const found = lookup(id, typeof e === 'string' ? undefined : e.version);
        if ('missing' in found)
          return bad(found.missing === 'agent' ? `${at}: agent '${id}' not found` : `${at}.version: agent '${id}' has no such version`, true);
        if (found.archived) return bad(`${at}: agent '${id}' is archived`);
        if (id === self.id) ref = { type: 'agent', ...self };
        else {
          if (found.hasMultiagent) return bad(`${at}: agent '${id}' has multiagent set itself; a thread's agent cannot delegate (depth limit 1)`);
          ref = { type: 'agent', id, version: found.version };
        }
      }
      if (out.some((r) => r.id === ref.id)) return bad(`${at}: agent '${ref.id}' is listed more than once`);
      out.push(ref);
    }
    return out;
  };

  if (p.type === 'coordinator') {
    const agents: Extract<Multiagent, { type: 'coordinator' }>['agents'] = [];
    const plain: AgentEntry[] = [];
    for (const e of p.agents) if (typeof e === 'string' || e.type !== 'advisor') plain.push(e);
    if (p.agents.filter((e) => typeof e !== 'string' && e.type === 'advisor').length > 1) return bad('multiagent.agents: at most one advisor entry');
    const refs = resolveList(plain, 'agents');
    if (!Array.isArray(refs)) return refs;
    let next = 0;
    for (const e of p.agents) agents.push(typeof e !== 'string' && e.type === 'advisor' ? { type: 'advisor', model: e.model } : refs[next++]!);
    return { ok: true, value: { type: 'coordinator', agents } };
  }

  // multiagent_20261001: merged into a stored one of the same type, level by level; null takes the default. One
  // stored before `multiagent` was validated (any shape) has nothing to merge into.
  const prev = stored?.type === 'multiagent_20261001' && isResolved(stored) ? stored : null;
  const advisor = p.advisor === undefined ? (prev?.advisor ?? { type: 'disabled' as const }) : (p.advisor ?? { type: 'disabled' as const });
  const members = (sent: MembersParams | null | undefined, before: ResolvedMembers | undefined, field: string): ResolvedMembers | Resolved => {
    if (sent === undefined && before) return before;
    const s: MembersParams = sent ?? { type: 'enabled' };
    if (s.type === 'disabled') return { type: 'disabled' };
    const same = before?.type === 'enabled' ? before : null;
    const inline: Toggle = s.inline_agents === undefined ? (same?.inline_agents ?? { type: 'enabled' }) : (s.inline_agents ?? { type: 'enabled' });
    let predefined: AgentReference[];
    if (s.predefined_agents === undefined && same) predefined = same.predefined_agents;
    else {
      const r = resolveList(s.predefined_agents ?? [], `${field}.predefined_agents`);
      if (!Array.isArray(r)) return r;
      predefined = r;
    }
    if (inline.type === 'disabled' && predefined.length === 0)
      return bad(`multiagent.${field}.predefined_agents: must name at least one agent when inline_agents is disabled`);
    return { type: 'enabled', inline_agents: inline, predefined_agents: predefined };
  };
  const subagents = members(p.subagents, prev?.subagents, 'subagents');
  if ('ok' in subagents) return subagents;
  const workflows = members(p.workflows, prev?.workflows, 'workflows');
  if ('ok' in workflows) return workflows;
  return { ok: true, value: { type: 'multiagent_20261001', advisor, subagents, workflows } };
}

/** Whether a stored `multiagent` has the resolved shape; agents saved before it was validated may hold anything. */
export function isResolved(m: Multiagent): boolean {
  const ref = (r: unknown) => {
    const x = r as { type?: unknown; id?: unknown; version?: unknown; model?: unknown } | null;
    return !!x && ((x.type === 'agent' && typeof x.id === 'string' && typeof x.version === 'number') || (x.type === 'advisor' && typeof x.model === 'string'));
  };
  const members = (x: ResolvedMembers | undefined) => !!x && (x.type === 'disabled' || (x.type === 'enabled' && Array.isArray(x.predefined_agents) && x.predefined_agents.every(ref)));
  if (m.type === 'coordinator') return Array.isArray(m.agents) && m.agents.every(ref);
  return m.type === 'multiagent_20261001' && !!m.advisor && members(m.subagents) && members(m.workflows);
}

/** The agents a session's primary thread can start threads for: subagents' predefined agents, or the coordinator's roster. */
export function delegateRoster<T>(m: { type: 'coordinator'; agents: Array<T | { type: 'advisor'; model: string }> } | { type: 'multiagent_20261001'; subagents: { type: 'enabled'; predefined_agents: T[] } | { type: 'disabled' } } | null): T[] {
  // A session created before `multiagent` was validated holds it as it was sent: only pinned definitions count.
  const pinned = (a: unknown): a is T => {
    const x = a as { type?: unknown; name?: unknown } | null;
    return typeof x === 'object' && x !== null && x.type === 'agent' && typeof x.name === 'string';
  };
  if (!m) return [];
  if (m.type === 'coordinator') return Array.isArray(m.agents) ? m.agents.filter(pinned) : [];
  return m.subagents?.type === 'enabled' && Array.isArray(m.subagents.predefined_agents) ? m.subagents.predefined_agents.filter(pinned) : [];
}

// ---- as a session holds it (BetaManagedAgentsSessionMultiagent): each agent's full definition, pinned ----

/** A thread's agent: its definition as pinned when the session was created, without `multiagent` (depth limit 1). */
export type ThreadAgent = Omit<AgentDefinition, 'multiagent'> & { type: 'agent'; id: string; version: number };
type SessionMembers = { type: 'enabled'; inline_agents: Toggle; predefined_agents: ThreadAgent[] } | { type: 'disabled' };
export type SessionMultiagent =
  | { type: 'coordinator'; agents: Array<ThreadAgent | { type: 'advisor'; model: string }> }
  | { type: 'multiagent_20261001'; advisor: { type: 'enabled'; model: string } | { type: 'disabled' }; subagents: SessionMembers; workflows: SessionMembers };

/**
 * The session's copy: each pinned reference replaced by that version's definition. `find` gives the version, or why
 * not (gone, or archived since); the message names the field under `agent.multiagent`.
 */
export function pinForSession(m: Multiagent | null, find: (ref: AgentReference) => ThreadAgent | string): { ok: true; value: SessionMultiagent | null } | { ok: false; message: string } {
  if (!m) return { ok: true, value: null };
  if (!isResolved(m))
    return { ok: false, message: 'agent.multiagent: the agent was saved before multiagent was validated; update its multiagent (POST /v1/agents/{id}) to use it in a session' };
  let problem: string | null = null;
  const pinOne = (r: AgentReference, at: string): ThreadAgent[] => {
    const found = problem === null ? find(r) : null;
    if (typeof found === 'string') problem = `agent.multiagent.${at}: ${found}`;
    return found && typeof found !== 'string' ? [found] : [];
  };
  const pin = (refs: Array<AgentReference>, field: string): ThreadAgent[] => refs.flatMap((r, i) => pinOne(r, `${field}[${i}]`));
  const members = (x: ResolvedMembers, field: string): SessionMembers =>
    x.type === 'disabled' ? x : { type: 'enabled', inline_agents: x.inline_agents, predefined_agents: pin(x.predefined_agents, `${field}.predefined_agents`) };
  let value: SessionMultiagent;
  if (m.type === 'coordinator') {
    value = {
      type: 'coordinator',
      agents: m.agents.flatMap((a, i): Array<ThreadAgent | { type: 'advisor'; model: string }> => (a.type === 'advisor' ? [a] : pinOne(a, `agents[${i}]`))),
    };
  } else value = { type: 'multiagent_20261001', advisor: m.advisor, subagents: members(m.subagents, 'subagents'), workflows: members(m.workflows, 'workflows') };
  return problem ? { ok: false, message: problem } : { ok: true, value };
}
