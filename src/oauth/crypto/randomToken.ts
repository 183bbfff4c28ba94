import { randomBytes } from 'node:crypto';

/** A base64url random string of `bytes` bytes of entropy (default 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
