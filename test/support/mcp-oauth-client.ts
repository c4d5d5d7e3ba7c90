// The OAuth client the test MCP server's token endpoint knows (test/support/mcp-server.ts): the refresh grant it
// accepts. Plain values, so tests in workerd can import them without the server.
export const OAUTH_CLIENT = { clientId: 'edgeharness-test', clientSecret: 'client-secret-5d8e21', refreshToken: 'refresh-token-3b7f90' };

/**
 * A refresh token of its own for one test, so the server's count of grants for it is that test's: the endpoint
 * accepts `<refreshToken>.<label>`, and for a label ending in `.refused` issues an access token the MCP server
 * refuses (a token endpoint and a resource server that disagree).
 */
export function refreshTokenFor(label: string, opts: { refused?: boolean } = {}): string {
  return `${OAUTH_CLIENT.refreshToken}.${label}${opts.refused ? '.refused' : ''}`;
}
