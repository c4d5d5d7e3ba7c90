// /v1/sessions: create (agent by id, pinned version, or with overrides), retrieve, update, list, delete, archive,
// plus the stream-token extension for browsers.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { mintStreamToken } from '../auth.ts';
import { invalidRequest } from '../errors.ts';
import { checkFileSources, parseQuery, readJson, refusalError, unwrap, workspace } from '../http.ts';
import { SessionCreateParams, SessionListQuery, SessionUpdateParams } from '../../../contract/session.ts';
import { sessionSpec } from '../../../contract/session-spec.ts';
import { sandboxNetworking } from '../../../contract/environment.ts';
import { sessionError, type NewEvent } from '../../../contract/events.ts';
import { sessionLog } from '../../../durable-objects/stubs.ts';
import { resolveRubrics } from '../outcome-rubrics.ts';
import { destroySandbox } from '../../../sandbox/providers.ts';
import type { Networking } from '../../../sandbox/hands.ts';
import { unreachableHosts, type SandboxCredential } from '../../../sandbox/credentials.ts';

const StreamTokenParams = z.strictObject({
  ttl_seconds: z.number().int().min(10).max(3600).optional(),
  /** The token may also post this session's events (a browser's message box); defaults to false: watch only. */
  allow_send: z.boolean().optional(),
});

export const sessions = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, SessionCreateParams);
    if (body.initial_events) await checkFileSources(c, body.initial_events, 'initial_events');
    const initialEvents = body.initial_events ? await resolveRubrics(c, body.initial_events, 'initial_events') : [];
    const ws = workspace(c);
    const session = unwrap(await ws.createSession(body));
    const log = sessionLog(c.env, session.id);
    try {
      const environment = unwrap(await ws.getEnvironment(session.environment_id));
      const networking = sandboxNetworking(environment.config);
      // Unreadable credentials (a master key missing) do not stop the session: its tool calls will say why.
      const credentials = session.vault_ids.length ? await ws.sessionCredentials(session.vault_ids).catch(() => []) : [];
      // The skills' names and descriptions go into the spec now, so no step reads the store for them.
      const skills = session.agent.skills.length ? await ws.skillSummaries(session.agent.skills) : [];
      await log.init({ spec: sessionSpec(session, c.get('workspaceId'), networking, skills), notices: credentialNotices(credentials, networking) });
      if (initialEvents.length) {
        const appended = await log.appendInput(initialEvents);
        if (!appended.ok) throw refusalError({ ...appended.error, message: `initial_${appended.error.message}` });
      }
    } catch (err) {
      // Half-created sessions must not linger: undo the index row and the log.
      await ws.deleteSession(session.id);
      await log.destroy().catch(() => {});
      throw err;
    }
    return c.json(unwrap(await ws.getSession(session.id)));
  })
  .get('/', async (c) => c.json(unwrap(await workspace(c).listSessions(parseQuery(c, SessionListQuery)))))
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getSession(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, SessionUpdateParams);
    // The official API does not support this yet ("requests setting this field are rejected"): a session's
    // credentials are fixed when it is created.
    if (body.vault_ids !== undefined) throw invalidRequest('vault_ids: cannot be changed after the session is created');
    const session = unwrap(await workspace(c).updateSession(c.req.param('id'), body));
    if (body.agent || body.budget !== undefined || body.limits !== undefined)
      await sessionLog(c.env, session.id).configure({ agent: session.agent, budget: session.budget, limits: session.limits });
    return c.json(session);
  })
  .delete('/:id', async (c) => {
    const id = c.req.param('id');
    const ws = workspace(c);
    unwrap(await ws.getSession(id));
    await sessionLog(c.env, id).destroy();
    // The sandbox goes with the session (it may never have started; destroy is idempotent).
    await destroySandbox(c.env, id);
    return c.json(unwrap(await ws.deleteSession(id)));
  })
  .post('/:id/archive', async (c) => c.json(unwrap(await workspace(c).archiveSession(c.req.param('id')))))
  // Extension: a token that lets a browser open this session's stream (EventSource/WebSocket cannot send headers)
  // and, with allow_send, post its events; nothing else (worker/api/auth.ts).
  .post('/:id/stream_tokens', async (c) => {
    const id = c.req.param('id');
    const body = await readJson(c, StreamTokenParams, { optional: true });
    unwrap(await workspace(c).getSession(id));
    const allowSend = body.allow_send ?? false;
    const { token, expiresAt } = await mintStreamToken(c.env, id, c.get('workspaceId'), body.ttl_seconds ?? 300, allowSend);
    return c.json({ type: 'stream_token', session_id: id, token, expires_at: expiresAt.toISOString(), allow_send: allowSend });
  });

/**
 * One `credential_host_unreachable_error` per credential with hosts the environment's networking does not let
 * the sandbox reach: the session works, but the credential can never be used on those hosts.
 */
function credentialNotices(credentials: SandboxCredential[], networking: Networking): NewEvent[] {
  const notices: NewEvent[] = [];
  for (const c of credentials) {
    const hosts = unreachableHosts(c, networking);
    if (hosts.length === 0) continue;
    notices.push(
      sessionError({
        type: 'credential_host_unreachable_error',
        credential_id: c.credentialId,
        vault_id: c.vaultId,
        message: `credential ${c.name} (${c.credentialId}) lists ${hosts.join(', ')} in auth.networking.allowed_hosts, which this session's environment networking does not allow; it will not be substituted there`,
        retry_status: { type: 'terminal' },
      }),
    );
  }
  return notices;
}
