import { randomBytes } from 'node:crypto';

/**
 * A high-entropy bearer value (authorization code, refresh token), base64url.
 * 32 bytes = 256 bits, well above RFC 6749 §10.10's 128-bit floor.
 */
export function randomToken(bytes: number = 32): string {
  return randomBytes(bytes).toString('base64url');
}
