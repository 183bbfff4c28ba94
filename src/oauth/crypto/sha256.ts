import { createHash } from 'node:crypto';

/**
 * SHA-256 of a high-entropy secret, base64url (43 chars). Codes and refresh
 * tokens are stored only in this form; being random, they need no salt.
 */
export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}
