// The agents' tables: one head row per agent (its current version, archive state and list position) and every
// version's body, never changed by an update (a change is a new version), only completed by migrations.
import type { Migration } from '../shared/migrations.ts';
import { defaultEffort, type Agent, type ModelConfig } from '../../contract/agent.ts';
import { rewriteBodies } from '../shared/rows.ts';

/** A model as stored before `effort` and `speed` were always stored. */
export type ModelBeforeDefaults = Pick<ModelConfig, 'id' | 'inference_geo'> & Partial<Pick<ModelConfig, 'effort' | 'speed'>>;

/** The model with `effort` (the model's default, resolved now) and `speed` (`standard`) it was stored without. */
export function withModelDefaults(model: ModelBeforeDefaults): ModelConfig {
  const { id, effort, inference_geo, speed } = model;
  return { id, effort: effort ?? { type: defaultEffort(id) }, ...(inference_geo ? { inference_geo } : {}), speed: speed ?? 'standard' };
}

export const agentMigrations: Migration[] = [
  {
    // IF NOT EXISTS: a database created before migrations were recorded already has these tables.
    id: 'agents/1-tables',
    up(sql) {
      sql.exec(`
        CREATE TABLE IF NOT EXISTS agents (
          n INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          version INTEGER NOT NULL,
          created_at TEXT NOT NULL,
          archived_at TEXT
        );
        CREATE TABLE IF NOT EXISTS agent_versions (
          agent_id TEXT NOT NULL,
          version INTEGER NOT NULL,
          body TEXT NOT NULL,
          PRIMARY KEY (agent_id, version)
        );
      `);
    },
  },
  {
    // The SDK's agent model always has `effort` (resolved at save time) and `speed` (default `standard`); agents
    // saved before this runtime stored them get them once, here, rather than on every read.
    id: 'agents/2-model-speed-and-effort',
    up(sql) {
      rewriteBodies<Agent>(sql, 'agent_versions', ['agent_id', 'version'], (agent) => ({ ...agent, model: withModelDefaults(agent.model) }));
    },
  },
];
