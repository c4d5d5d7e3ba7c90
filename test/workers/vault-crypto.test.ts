// The vault's encryption at rest: AES-256-GCM bound to one credential, key ids for rotation, clear key errors.
import { describe, expect, it } from 'vitest';
import { loadKeyring, openSecret, sealSecret, secretAad, VaultCryptoError, type SealedSecret } from '../../vault/crypto.ts';

const KEY_A = 'jIkQ1ePc4dTzOmqMRFeDuiA9RvnrbK3R07zkQE/xVSo=';
const KEY_B = 'DlQYwFs6IRVkgS4wNKDOhjZ5O2FNvOKJdJmbgmUwZ5I=';
const AAD = secretAad('wrkspc_one', 'vlt_one', 'vcrd_one');

async function refusal(promise: Promise<unknown>): Promise<VaultCryptoError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VaultCryptoError);
  return err as VaultCryptoError;
}

describe('vault crypto', () => {
  it('opens what it sealed; each seal has a fresh IV and no plaintext', async () => {
    const keys = await loadKeyring({ VAULT_MASTER_KEY: KEY_A });
    const first = await sealSecret(keys, AAD, 'ghp_supersecret');
    const second = await sealSecret(keys, AAD, 'ghp_supersecret');
    expect(first.keyId).toMatch(/^k_[0-9a-f]{16}$/);
    expect(first.keyId).toBe(keys.current.id);
    expect(atob(first.iv)).toHaveLength(12);
    expect(first.iv).not.toBe(second.iv);
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(JSON.stringify(first)).not.toContain('supersecret');
    expect(atob(first.ciphertext)).not.toContain('supersecret');
    expect(await openSecret(keys, AAD, first)).toBe('ghp_supersecret');
    expect(await openSecret(keys, AAD, second)).toBe('ghp_supersecret');
  });

  it('derives the key id from the key: the same key always has the same id, another key another', async () => {
    const a1 = await loadKeyring({ VAULT_MASTER_KEY: KEY_A });
    const a2 = await loadKeyring({ VAULT_MASTER_KEY: ` ${KEY_A}\n` });
    const b = await loadKeyring({ VAULT_MASTER_KEY: KEY_B });
    expect(a1.current.id).toBe(a2.current.id);
    expect(b.current.id).not.toBe(a1.current.id);
  });

  it('refuses to open a secret under another credential’s AAD, or an altered one', async () => {
    const keys = await loadKeyring({ VAULT_MASTER_KEY: KEY_A });
    const sealed = await sealSecret(keys, AAD, 'value');
    for (const aad of [
      secretAad('wrkspc_one', 'vlt_one', 'vcrd_two'),
      secretAad('wrkspc_one', 'vlt_two', 'vcrd_one'),
      secretAad('wrkspc_two', 'vlt_one', 'vcrd_one'),
    ])
      expect((await refusal(openSecret(keys, aad, sealed))).message).toContain('did not open');
    const bytes = Uint8Array.from(atob(sealed.ciphertext), (ch) => ch.charCodeAt(0));
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    const altered: SealedSecret = { ...sealed, ciphertext: btoa(String.fromCharCode(...bytes)) };
    expect((await refusal(openSecret(keys, AAD, altered))).message).toContain('did not open');
  });

  it('after a rotation opens secrets sealed under the previous key and seals new ones under the current key', async () => {
    const before = await loadKeyring({ VAULT_MASTER_KEY: KEY_A });
    const old = await sealSecret(before, AAD, 'sealed under A');
    const after = await loadKeyring({ VAULT_MASTER_KEY: KEY_B, VAULT_PREVIOUS_MASTER_KEYS: ` , ${KEY_A}` });
    expect(await openSecret(after, AAD, old)).toBe('sealed under A');
    const fresh = await sealSecret(after, AAD, 'sealed under B');
    expect(fresh.keyId).toBe(after.current.id);
    expect(fresh.keyId).not.toBe(old.keyId);
    // B alone cannot open what A sealed: the error names the key that is missing.
    const onlyB = await loadKeyring({ VAULT_MASTER_KEY: KEY_B });
    const err = await refusal(openSecret(onlyB, AAD, old));
    expect(err.message).toContain(`vault key ${old.keyId} is not configured`);
    expect(err.message).toContain('VAULT_PREVIOUS_MASTER_KEYS');
  });

  it('refuses a missing or malformed master key with a message that names it and never echoes it', async () => {
    expect((await refusal(loadKeyring({}))).message).toContain('no vault master key configured');
    expect((await refusal(loadKeyring({ VAULT_MASTER_KEY: '  ' }))).message).toContain('VAULT_MASTER_KEY');
    const hex = 'a'.repeat(64);
    const notBase64 = await refusal(loadKeyring({ VAULT_MASTER_KEY: 'correct horse battery staple' }));
    expect(notBase64.message).toContain('VAULT_MASTER_KEY: expected the base64 of 32 random bytes');
    expect(notBase64.message).not.toContain('horse');
    const short = await refusal(loadKeyring({ VAULT_MASTER_KEY: btoa('0123456789abcdef') }));
    expect(short.message).toContain('decodes to 16 bytes');
    const wrongLength = await refusal(loadKeyring({ VAULT_MASTER_KEY: hex }));
    expect(wrongLength.message).toContain('decodes to 48 bytes');
    expect(wrongLength.message).not.toContain(hex);
    const previous = await refusal(loadKeyring({ VAULT_MASTER_KEY: KEY_A, VAULT_PREVIOUS_MASTER_KEYS: `${KEY_B},nope` }));
    expect(previous.message).toContain('VAULT_PREVIOUS_MASTER_KEYS[1]');
  });
});
