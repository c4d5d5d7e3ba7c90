// The OAuth client the test MCP server's token endpoint knows (test/support/mcp-server.ts): the refresh grant it
// accepts. Plain values, so tests in workerd can import them without the server.
export const OAUTH_CLIENT = { clientId: 'edgeharness-test', clientSecret: 'client-secret-5d8e21', refreshToken: 'refresh-token-3b7f90' };
