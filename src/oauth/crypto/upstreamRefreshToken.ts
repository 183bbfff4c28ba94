import { scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number },
) => Promise<Buffer>;

/**
 * Refresh tokens issued by upstream `@backstage/plugin-auth-backend` 0.27 –
 * 0.31 (`offline_sessions`): `<session id>.<32 random bytes, base64url>`,
 * stored as `base64(salt).base64(scrypt(token, salt))` with N=16384, r=8,
 * p=1 and a 64-byte key. A database taken over from upstream still holds
 * them; their clients present them once more, and they are then rotated into
 * this plugin's own store.
 */
const FORMAT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;
const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 64;

/** The session id of a token in upstream's format, or undefined for anything else. */
export function upstreamRefreshTokenId(token: string): string | undefined {
  return FORMAT.exec(token)?.[1];
}

/** Whether `token` is the one whose hash upstream stored (constant-time). */
export async function verifyUpstreamRefreshToken(token: string, storedHash: string): Promise<boolean> {
  const [salt, hash, extra] = storedHash.split('.');
  if (!salt || !hash || extra !== undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  if (expected.length !== KEY_LENGTH) return false;
  const actual = await scrypt(token, Buffer.from(salt, 'base64'), KEY_LENGTH, SCRYPT);
  return timingSafeEqual(actual, expected);
}
