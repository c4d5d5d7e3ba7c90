// `mcp_oauth_validate`: probes an mcp_oauth credential's MCP server with its access token (`initialize` and
// `tools/list`, what a session's step sends), refreshes when the token has expired or the server answers 401, stores
// a refreshed token, and reports the outcome in the official result's terms. No token is ever part of the answer.
import { mcpServerUrlProblem } from '../../contract/agent.ts';
import { ok, type Result } from '../../contract/result.ts';
import type { CredentialValidation, McpCredential, McpProbe, ProbeRefresh } from '../../contract/vault.ts';
import type { McpConnectResult, McpPort } from './mcp-client.ts';
import { refreshAccessToken } from './mcp-oauth.ts';
import type { VaultPort } from './ports.ts';

export interface ValidationPorts {
  /** The credential decrypted, null when archived (no token kept), or the API's refusal (not found, not mcp_oauth). */
  credential(): Promise<Result<McpCredential | null>>;
  record: VaultPort['recordMcpRefresh'];
  mcp: McpPort;
}

export async function validateMcpCredential(ports: ValidationPorts, workspaceId: string, vaultId: string, credentialId: string): Promise<Result<CredentialValidation>> {
  const found = await ports.credential();
  if (!found.ok) return found;
  const credential = found.value;
  const verdict = (status: CredentialValidation['status'], mcp_probe: McpProbe | null, refresh: ProbeRefresh | null): Result<CredentialValidation> =>
    ok({
      type: 'vault_credential_validation',
      credential_id: credentialId,
      vault_id: vaultId,
      status,
      has_refresh_token: credential?.refresh != null,
      mcp_probe,
      refresh,
      validated_at: new Date().toISOString(),
    });
  // Archived: the token was dropped, so there is nothing to test.
  if (!credential) return verdict('invalid', null, null);
  if (mcpServerUrlProblem(credential.mcpServerUrl)) return verdict('unknown', { method: 'initialize', http_response: null }, null);
  const noRefreshToken: ProbeRefresh = { status: 'no_refresh_token', http_response: null };

  /** Refreshes and stores the new token; the refresh object to report, and the token when there is one. */
  const refresh = async (): Promise<{ report: ProbeRefresh; token: string | null }> => {
    if (!credential.refresh) return { report: noRefreshToken, token: null };
    const r = await refreshAccessToken(credential.refresh);
    if (!r.ok) return { report: { status: r.failure.status, http_response: r.failure.httpResponse }, token: null };
    try {
      await ports.record(workspaceId, credential, r.token);
    } catch {
      // The new token is still tested; the next validation or step refreshes again.
    }
    return { report: { status: 'succeeded', http_response: null }, token: r.token.accessToken };
  };

  let token = credential.token;
  let refreshed: ProbeRefresh | null = null;
  // An expired token is never sent (as in a session): it is refreshed first, or the credential cannot work.
  if (credential.expiresAt && Date.parse(credential.expiresAt) <= Date.now()) {
    const r = await refresh();
    // Unreachable token endpoint: whether a refresh would work is not known.
    if (r.token === null) return verdict(r.report.status === 'connect_error' ? 'unknown' : 'invalid', null, r.report);
    token = r.token;
    refreshed = r.report;
  }
  let probe = await probeOnce(ports.mcp, credential.mcpServerUrl, token);
  if (!probe.ok && status(probe) === 401 && !refreshed) {
    const r = await refresh();
    refreshed = r.report;
    if (r.token === null) return verdict('invalid', probe.probe, refreshed);
    probe = await probeOnce(ports.mcp, credential.mcpServerUrl, r.token);
  }
  if (probe.ok) return verdict('valid', null, refreshed);
  const code = status(probe);
  return verdict(code === 401 || code === 403 ? 'invalid' : 'unknown', probe.probe, refreshed);
}

async function probeOnce(mcp: McpPort, url: string, token: string): Promise<McpConnectResult> {
  const r = await mcp.connect(url, token);
  if (r.ok) await r.connection.close();
  return r;
}

function status(r: Extract<McpConnectResult, { ok: false }>): number | null {
  return r.probe.http_response?.status_code ?? null;
}
