import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';

/** Backstage user tokens, which the framework verifies against this plugin's JWKS alone. */
const USER_TOKEN_TYPES = new Set(['vnd.backstage.user', 'vnd.backstage.limited-user']);
/** Tokens remembered at most; each costs a hash and a user entity ref. */
const MAX_ENTRIES = 4096;

/** What the framework's verification of a request's credentials said. */
export interface VerifiedUser {
  userEntityRef: string;
  /** When the verified token expires (BackstageCredentials.expiresAt). */
  expiresAt?: Date;
}

/**
 * Remembers which user a Backstage user token belongs to once the framework
 * has verified it, until the token expires, so the next request with it
 * costs a lookup instead of a signature check (issue 15: ES256 verification
 * was a fifth of `/v1/userinfo`'s time).
 *
 * Sound because a user token's verdict cannot change before it expires: its
 * bytes are signed, user tokens cannot be revoked, and a signing key stays
 * published for as long as any token it signed is valid. Only successes are
 * kept, only for Backstage user tokens (whose `typ` says so; a service's token
 * is verified against another plugin's keys and is left to the framework
 * every time), never past the token's `exp`, and only when what the framework
 * verified is this token: same subject, same expiry (the framework may have
 * read the request differently, e.g. taken a cookie).
 *
 * The returned function answers the user of `token` (the request's bearer
 * token, or '' for none), running `verify` unless it knows the answer.
 */
export function createVerifiedTokenCache(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { userEntityRef: string; expiresAtMs: number }>();
  return async function verifiedUser(token: string, verify: () => Promise<VerifiedUser>): Promise<string> {
    const claims = userTokenClaims(token);
    if (!claims) return (await verify()).userEntityRef;
    const key = createHash('sha256').update(token).digest('base64url');
    const entry = entries.get(key);
    if (entry && now() < entry.expiresAtMs) return entry.userEntityRef;
    const verified = await verify();
    if (verified.userEntityRef === claims.sub && verified.expiresAt?.getTime() === claims.expiresAtMs) {
      if (entries.size >= MAX_ENTRIES) {
        // Expired ones first; if none are, the oldest.
        for (const [k, e] of entries) if (now() >= e.expiresAtMs) entries.delete(k);
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
      }
      entries.set(key, { userEntityRef: verified.userEntityRef, expiresAtMs: claims.expiresAtMs });
    }
    return verified.userEntityRef;
  };
}

/** The subject and expiry (ms) a Backstage user token claims, or undefined for any other token. */
function userTokenClaims(token: string): { sub: string; expiresAtMs: number } | undefined {
  if (!token) return undefined;
  try {
    const { typ } = decodeProtectedHeader(token);
    if (typeof typ !== 'string' || !USER_TOKEN_TYPES.has(typ)) return undefined;
    const { sub, exp } = decodeJwt(token);
    return typeof sub === 'string' && typeof exp === 'number' ? { sub, expiresAtMs: exp * 1000 } : undefined;
  } catch {
    return undefined;
  }
}
