import { randomInt } from 'node:crypto';

/**
 * RFC 8628 §6.1: consonants only (no vowels, so no words; no look-alike
 * 0/O or 1/I), upper case. 20^8 ≈ 2^34.6 codes, enough with rate limiting
 * and a lifetime of minutes (§5.1).
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** Characters in a user code, without the display dash. */
export const USER_CODE_LENGTH = 8;

/** A fresh user code in normalized form (8 characters, no dash). */
export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) {
    // randomInt is unbiased, unlike `byte % 20`
    code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  }
  return code;
}

/** Shows a normalized user code as `XXXX-XXXX` (RFC 8628 §6.1 readability). */
export function formatUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}

/**
 * Normalizes what a person typed: case-insensitive, dashes and whitespace
 * ignored (RFC 8628 §6.1). Returns undefined when the result cannot be a
 * user code, so it never reaches the database.
 */
export function normalizeUserCode(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const char of code) {
    if (!USER_CODE_ALPHABET.includes(char)) return undefined;
  }
  return code;
}
