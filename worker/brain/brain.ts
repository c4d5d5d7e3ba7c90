// The Brain entrypoint: woken by a SessionLog alarm through the BRAIN service binding, runs one step.
import { WorkerEntrypoint } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import type { Result } from '../../contract/result.ts';
import type { CredentialValidation } from '../../contract/vault.ts';
import { sessionLog, workspaceStore } from '../../durable-objects/stubs.ts';
import { handsFor } from '../../sandbox/providers.ts';
import { mcpOverHttp } from './mcp-client.ts';
import { validateMcpCredential } from './mcp-validate.ts';
import { filesFor } from './files.ts';
import { anthropicModel } from './model-client.ts';
import type { StepPorts } from './ports.ts';
import { vaultFor } from './vault.ts';
import { DEFAULT_STEP_OPTIONS, runStep, type StepOptions, type StepOutcome } from './step.ts';

export class Brain extends WorkerEntrypoint<Env> {
  async step(sessionId: string, epoch: number): Promise<StepOutcome> {
    return runStep(epoch, this.ports(sessionId), stepOptions(this.env));
  }

  /** `mcp_oauth_validate` (worker/api/routes/vaults.ts): the probe is HTTP to the credential's server, so the brain runs it. */
  async validateMcpCredential(workspaceId: string, vaultId: string, credentialId: string): Promise<Result<CredentialValidation>> {
    const store = workspaceStore(this.env, workspaceId);
    const vault = vaultFor(this.env);
    return validateMcpCredential(
      { credential: () => store.mcpCredentialToValidate(vaultId, credentialId), record: (...a) => vault.recordMcpRefresh(...a), mcp: mcpOverHttp },
      workspaceId,
      vaultId,
      credentialId,
    );
  }

  /**
   * What a step of this session works with: its log, the model, the hands, the vault, the files and MCP. A Worker that
   * builds on this one may override it to wrap them (observe a step, or stop it at a given append or tool call).
   */
  protected ports(sessionId: string): StepPorts {
    return {
      log: sessionLog(this.env, sessionId),
      model: anthropicModel(this.env),
      hands: handsFor(this.env),
      vault: vaultFor(this.env),
      files: filesFor(this.env),
      mcp: mcpOverHttp,
    };
  }
}

function stepOptions(env: Env): StepOptions {
  const num = (v: string | undefined, dflt: number) => (v !== undefined && Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : dflt);
  return {
    maxModelAttempts: num(env.EDGEHARNESS_MODEL_MAX_ATTEMPTS, DEFAULT_STEP_OPTIONS.maxModelAttempts),
    retryBaseMs: num(env.EDGEHARNESS_RETRY_BASE_MS, DEFAULT_STEP_OPTIONS.retryBaseMs),
  };
}
