import { decodeJwt } from 'jose';
import type { UserAuthentication } from '../oauth/authenticationContext';

/** An `auth_time` this far ahead of our clock is a broken provider clock, not a sign-in. */
const MAX_CLOCK_SKEW_SECONDS = 300;
const MAX_AMR_ENTRIES = 16;
const PRINTABLE = /^[\x20-\x7e]+$/;

/**
 * The provider's ID token in the body of a framework OAuth handler's
 * response (`{ providerInfo: { idToken } }`), if there is one.
 */
export function providerIdTokenOf(body: unknown): string | undefined {
  const providerInfo = (body as { providerInfo?: { idToken?: unknown } } | undefined)?.providerInfo;
  const idToken = providerInfo?.idToken;
  return typeof idToken === 'string' && idToken !== '' ? idToken : undefined;
}

/**
 * The sign-in result in the page a framework frame handler sends to the
 * popup flow (`sendWebMessageResponse` of `@backstage/plugin-auth-node`:
 * the message JSON, URI-encoded, in a script), or undefined for any other
 * body, such as the redirect flow's.
 */
export function webMessageOf(chunk: unknown): unknown {
  let text = '';
  if (typeof chunk === 'string') text = chunk;
  else if (Buffer.isBuffer(chunk)) text = chunk.toString('utf8');
  const encoded = /var authResponse = decodeURIComponent\('([^']*)'\)/.exec(text)?.[1];
  if (encoded === undefined) return undefined;
  try {
    const message = JSON.parse(decodeURIComponent(encoded)) as { type?: unknown; response?: unknown };
    return message.type === 'authorization_response' ? message.response : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a provider's ID token says about the user's authentication (OIDC
 * Core §2): `auth_time`, `acr`, `amr` (RFC 8176). Its signature is not
 * checked here: the token comes from the provider module's own exchange
 * with the identity provider, in this process, never from a client.
 * Values that are not well-formed are left out.
 */
export function authenticationFromIdToken(idToken: string, now: Date): Partial<UserAuthentication> {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(idToken);
  } catch {
    return {}; // e.g. an encrypted ID token: nothing to read
  }
  const result: Partial<UserAuthentication> = {};
  const authTime = claims.auth_time;
  if (
    typeof authTime === 'number' &&
    Number.isFinite(authTime) &&
    authTime > 0 &&
    authTime <= now.getTime() / 1000 + MAX_CLOCK_SKEW_SECONDS
  ) {
    result.authTime = new Date(Math.floor(authTime) * 1000);
  }
  if (typeof claims.acr === 'string' && claims.acr.length <= 255 && PRINTABLE.test(claims.acr)) {
    result.acr = claims.acr;
  }
  const amr = claims.amr;
  if (
    Array.isArray(amr) &&
    amr.length > 0 &&
    amr.length <= MAX_AMR_ENTRIES &&
    amr.every(m => typeof m === 'string' && m.length <= 64 && PRINTABLE.test(m))
  ) {
    result.amr = amr as string[];
  }
  return result;
}
