import { hkdfSync } from 'node:crypto';

/**
 * A versioned secret every instance of a deployment shares (the database's
 * `oidc_device_code_keys`). The version travels with whatever the key
 * protected, so a newer key can take over while older values still resolve.
 */
export interface SecretKey {
  version: string;
  secret: Buffer;
}

/** Where an instance gets the deployment's secret keys, newest first. */
export interface SecretKeySource {
  /**
   * The keys, newest first; `fresh` reads them again rather than from a
   * cache, for a version another instance may have added a moment ago.
   */
  secretKeys(options?: { fresh?: boolean }): Promise<SecretKey[]>;
}

/**
 * A key for one purpose, derived from a shared secret (HKDF-SHA-256,
 * RFC 5869 §2): one stored secret serves several uses without two of them
 * ever using the same key.
 */
export function deriveKey(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), purpose, 32));
}
