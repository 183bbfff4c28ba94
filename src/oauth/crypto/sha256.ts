import { createHash } from 'node:crypto';

/**
 * Hex SHA-256 of a UTF-8 string. Used to store high-entropy bearer secrets
 * (client secrets, codes, refresh tokens): a database leak does not reveal them.
 */
export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}
