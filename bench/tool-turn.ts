// One timed tool call, as the hands and MCP benchmarks each measure it: a turn whose scripted model calls a tool,
// followed over the event stream until the session is idle again.
import type Anthropic from '@anthropic-ai/sdk';

/** Which pair of events a call appears as: the agent toolset's or an MCP server's. */
export type CallEvents = 'agent.tool' | 'agent.mcp_tool';

/**
 * Sends `text` and returns the call's `<kind>_use` and `<kind>_result` events' processed_at, as epoch ms. A session
 * error, an error result, or a turn without the call throws: a benchmark of a failing call measures nothing.
 */
export async function timedToolTurn(client: Anthropic, sessionId: string, text: string, kind: CallEvents): Promise<{ use: number; result: number }> {
  const stream = await client.beta.sessions.events.stream(sessionId);
  await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
  let use = '';
  let result = '';
  for await (const ev of stream) {
    if (ev.type === 'session.error') throw new Error(`session error: ${JSON.stringify(ev.error)}`);
    if ((ev.type === 'agent.tool_use' || ev.type === 'agent.mcp_tool_use') && ev.type === `${kind}_use`) use = ev.processed_at;
    if ((ev.type === 'agent.tool_result' || ev.type === 'agent.mcp_tool_result') && ev.type === `${kind}_result`) {
      result = ev.processed_at;
      if (ev.is_error) throw new Error(`the call failed: ${JSON.stringify(ev.content)}`);
    }
    if (ev.type === 'session.status_idle') break;
  }
  if (!use || !result) throw new Error(`the turn '${text}' had no ${kind}_use and ${kind}_result`);
  return { use: Date.parse(use), result: Date.parse(result) };
}
