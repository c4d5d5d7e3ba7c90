// The real runtime (scripts/runtime.ts) on a throwaway state dir, backed by the scripted model, with an official SDK
// client for it: what the end-to-end tests and the benchmarks start. It restarts on the same state, as the tests of
// crashes, restarts and key rotation need.
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../scripts/runtime.ts';
import { startScriptedModel, type StartedScriptedModel, type StartOptions } from '../../scripted-model/server.ts';

export interface ScriptedRuntimeOptions extends Pick<RuntimeOptions, 'workerVars' | 'workerEntry' | 'inspectorPort'> {
  /** The runtime's API key (EDGEHARNESS_API_KEY). */
  apiKey?: string;
  /** How the scripted model is started (a port of its own is always picked). */
  model?: Omit<StartOptions, 'port'>;
}

export interface ScriptedRuntime {
  readonly model: StartedScriptedModel;
  readonly stateDir: string;
  /** The runtime running now: `restart` replaces it. */
  readonly runtime: Runtime;
  /** A client of the runtime running now, retries off so every failure reaches the caller. */
  readonly client: Anthropic;
  /** Starts the runtime again on the same state and model, once the caller has stopped it or it has died. */
  restart(): Promise<void>;
  /** Stops the runtime and the model, and removes the state. */
  stop(): Promise<void>;
}

/** `name` tells the state dirs apart (`eh-<name>-…` in the temp dir). */
export async function startScriptedRuntime(name: string, options: ScriptedRuntimeOptions = {}): Promise<ScriptedRuntime> {
  const model = await startScriptedModel({ ...options.model, port: 0 });
  const stateDir = mkdtempSync(path.join(tmpdir(), `eh-${name}-`));
  const removeAll = async () => {
    await model.close();
    rmSync(stateDir, { recursive: true, force: true });
  };
  const start = async (): Promise<{ runtime: Runtime; client: Anthropic }> => {
    const runtime = await startRuntime({
      port: 0,
      stateDir,
      env: {
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: 'scripted',
        EDGEHARNESS_API_KEY: options.apiKey ?? `${name}-key`,
        PATH: process.env.PATH,
        HOME: process.env.HOME,
      },
      workerVars: options.workerVars,
      workerEntry: options.workerEntry,
      inspectorPort: options.inspectorPort,
    });
    return { runtime, client: new Anthropic({ baseURL: runtime.url, apiKey: runtime.apiKey, maxRetries: 0 }) };
  };
  let current: { runtime: Runtime; client: Anthropic };
  try {
    current = await start();
  } catch (err) {
    await removeAll();
    throw err;
  }
  return {
    model,
    stateDir,
    get runtime() {
      return current.runtime;
    },
    get client() {
      return current.client;
    },
    async restart() {
      current = await start();
    },
    async stop() {
      await current.runtime.stop();
      await removeAll();
    },
  };
}

/** Sends one message and gathers the session's events from the stream until the turn ends idle. */
export async function turn(client: Anthropic, sessionId: string, text: string): Promise<Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent[]> {
  const stream = await client.beta.sessions.events.stream(sessionId);
  await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
  const seen: Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent[] = [];
  for await (const ev of stream) {
    seen.push(ev as Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent);
    if (ev.type === 'session.status_idle') break;
  }
  return seen;
}

/** Has the scripted model run `command` with the bash tool in one turn; answers the turn's events. */
export function bashTurn(client: Anthropic, sessionId: string, command: string): Promise<Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent[]> {
  return turn(client, sessionId, `[[tool:bash ${JSON.stringify({ command })}]]`);
}

/** The text and error flag of the first tool result among `events`. */
export function toolResultText(events: Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent[]): { text: string; isError: boolean | undefined } {
  const result = events.find((e): e is Extract<typeof e, { type: 'agent.tool_result' }> => e.type === 'agent.tool_result');
  return { text: (result?.content ?? []).map((b) => ('text' in b ? b.text : '')).join(''), isError: result?.is_error ?? undefined };
}
