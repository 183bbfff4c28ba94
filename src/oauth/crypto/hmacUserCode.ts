import { createHmac } from 'node:crypto';
import type { SecretKey } from './secretKeys';

/**
 * A versioned secret key for hashing user codes; its version is stored next
 * to each hash, so keys can be rotated without losing pending codes.
 */
export type UserCodeKey = SecretKey;

/**
 * Keyed HMAC-SHA-256 of a normalized user code, base64url. A plain hash of
 * a short code could be reversed by trying all 20^8 codes; the key makes
 * the stored value useless without it. Deterministic, so it can be looked up.
 */
export function hmacUserCode(normalizedUserCode: string, key: UserCodeKey): string {
  return createHmac('sha256', key.secret).update(normalizedUserCode, 'utf8').digest('base64url');
}
