// Encryption at rest for vault secrets: AES-256-GCM (WebCrypto) under a master key from a Worker secret. Each sealed
// secret names the key it was sealed under, so keys can be rotated, and its AAD binds it to one credential.

/** The Worker secrets the keyring is read from (see worker/env.ts). */
export interface VaultKeyEnv {
  VAULT_MASTER_KEY?: string | undefined;
  VAULT_PREVIOUS_MASTER_KEYS?: string | undefined;
}

/** A vault key that is missing, malformed, or cannot open a secret. Messages never contain key material. */
export class VaultCryptoError extends Error {
  override readonly name = 'VaultCryptoError';
}

export interface MasterKey {
  /** `k_` + the first 16 hex characters of SHA-256 of the raw key: names the key without revealing it. */
  readonly id: string;
  readonly key: CryptoKey;
}

export interface Keyring {
  /** Seals every new or updated secret. */
  readonly current: MasterKey;
  /** Every configured key by id, the current one included: what a sealed secret can be opened with. */
  readonly byId: ReadonlyMap<string, MasterKey>;
}

/** A secret at rest. `iv` and `ciphertext` (GCM tag included) are base64. */
export interface SealedSecret {
  keyId: string;
  iv: string;
  ciphertext: string;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;

/**
 * Reads the keyring from the environment: `VAULT_MASTER_KEY` (base64 of 32 bytes) seals and opens;
 * `VAULT_PREVIOUS_MASTER_KEYS` (comma-separated, same format) only open, so secrets sealed before a rotation stay
 * readable and are re-sealed under the current key when they are next updated.
 * Throws VaultCryptoError when the master key is unset or any key is not the base64 of exactly 32 bytes.
 */
export async function loadKeyring(env: VaultKeyEnv): Promise<Keyring> {
  const currentText = env.VAULT_MASTER_KEY?.trim();
  if (!currentText)
    throw new VaultCryptoError(
      'this runtime has no vault master key configured: set the Worker secret VAULT_MASTER_KEY to the base64 of 32 random bytes (openssl rand -base64 32)',
    );
  const current = await importMasterKey(currentText, 'VAULT_MASTER_KEY');
  const byId = new Map<string, MasterKey>([[current.id, current]]);
  const previous = (env.VAULT_PREVIOUS_MASTER_KEYS ?? '').split(',');
  for (const [i, raw] of previous.entries()) {
    const text = raw.trim();
    if (!text) continue;
    const key = await importMasterKey(text, `VAULT_PREVIOUS_MASTER_KEYS[${i}]`);
    if (!byId.has(key.id)) byId.set(key.id, key);
  }
  return { current, byId };
}

/** The AAD of a credential's secrets: a ciphertext copied to another credential, vault or workspace fails to open. */
export function secretAad(workspaceId: string, vaultId: string, credentialId: string): string {
  return `${workspaceId}/${vaultId}/${credentialId}`;
}

/** Encrypts `plaintext` under the current key with a fresh random IV, bound to `aad`. */
export async function sealSecret(keys: Keyring, aad: string, plaintext: string): Promise<SealedSecret> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8(aad) },
    keys.current.key,
    utf8(plaintext),
  );
  return { keyId: keys.current.id, iv: toBase64(iv), ciphertext: toBase64(new Uint8Array(ciphertext)) };
}

/**
 * Decrypts a sealed secret with the key it names. Throws VaultCryptoError naming the key id when that key is not
 * configured, and when the ciphertext does not open under `aad` (sealed for another credential, or altered).
 */
export async function openSecret(keys: Keyring, aad: string, sealed: SealedSecret): Promise<string> {
  const key = keys.byId.get(sealed.keyId);
  if (!key)
    throw new VaultCryptoError(
      `vault key ${sealed.keyId} is not configured: this secret was sealed under it; add that key to VAULT_PREVIOUS_MASTER_KEYS (the current key is ${keys.current.id})`,
    );
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64(sealed.iv), additionalData: utf8(aad) },
      key.key,
      fromBase64(sealed.ciphertext),
    );
  } catch {
    // also reached when the stored iv or ciphertext is not base64
    throw new VaultCryptoError(`a secret sealed under vault key ${sealed.keyId} did not open: it belongs to another credential or was altered`);
  }
  return new TextDecoder().decode(plaintext);
}

async function importMasterKey(text: string, name: string): Promise<MasterKey> {
  // Standard base64 only: a hex string or a passphrase would otherwise decode to some bytes and be used silently.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new VaultCryptoError(`${name}: expected the base64 of ${KEY_BYTES} random bytes (openssl rand -base64 32); the value is not base64`);
  const raw = fromBase64(text);
  if (raw.byteLength !== KEY_BYTES)
    throw new VaultCryptoError(`${name}: expected the base64 of ${KEY_BYTES} random bytes (openssl rand -base64 32); it decodes to ${raw.byteLength} bytes`);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
  const id = `k_${[...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const key = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  return { id, key };
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
