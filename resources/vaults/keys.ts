// What credentials are sealed with: the deployment's vault keyring (vault/crypto.ts), imported once, and the
// workspace the secrets are bound to (the hosting Durable Object's name).
import { fail, ok, type Result } from '../../contract/result.ts';
import { loadKeyring, VaultCryptoError, type Keyring, type VaultKeyEnv } from '../../vault/crypto.ts';

export class VaultKeys {
  private readonly env: () => VaultKeyEnv;
  private readonly workspaceName: () => string | undefined;
  private keyringLoad: Promise<Keyring> | undefined;

  /**
   * Both are asked on use: the keys are read from the host's bindings when first needed, and a Durable Object
   * reached other than by name has no workspace name, which is said then.
   */
  constructor(env: () => VaultKeyEnv, workspaceName: () => string | undefined) {
    this.env = env;
    this.workspaceName = workspaceName;
  }

  /** The workspace sealed secrets are bound to. */
  workspaceId(): string {
    const name = this.workspaceName();
    if (!name) throw new Error('WorkspaceStore must be reached by workspaceStore(env, workspaceId) (durable-objects/stubs.ts): vault secrets are bound to that name');
    return name;
  }

  /** The keyring, imported once. Throws VaultCryptoError when the keys are missing or malformed (and retries next time). */
  async load(): Promise<Keyring> {
    this.keyringLoad ??= loadKeyring(this.env());
    try {
      return await this.keyringLoad;
    } catch (err) {
      this.keyringLoad = undefined;
      throw err;
    }
  }

  /** load for the API: a missing or malformed master key is the operator's to fix, said plainly, never a 500. */
  async forRequest(): Promise<Result<Keyring>> {
    try {
      return ok(await this.load());
    } catch (err) {
      if (err instanceof VaultCryptoError) return fail('invalid_request_error', `vault: ${err.message}`, 'vault_not_configured');
      throw err;
    }
  }
}
