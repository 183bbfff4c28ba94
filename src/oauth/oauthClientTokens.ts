import { decodeJwt } from 'jose';

/**
 * The claim that marks a Backstage user token minted by the token endpoint
 * for an OAuth client (RFC 9068 §2.2 names the same claim): its value is the
 * client's id. Portal sign-ins never carry it.
 */
export const OAUTH_CLIENT_ID_CLAIM = 'client_id';
/** The scopes granted to that client, space-separated (RFC 9068 §2.2.3). */
export const OAUTH_SCOPE_CLAIM = 'scope';

/**
 * The OAuth client a Backstage user token was issued to, or undefined for a
 * token from a portal sign-in. Decodes without verifying: call it only on a
 * token the framework has already verified.
 */
export function oauthClientOfToken(token: string): string | undefined {
  return oauthGrantOfToken(token)?.clientId;
}

/** The client and scopes a verified token was issued to, or undefined for a portal sign-in. */
export function oauthGrantOfToken(
  token: string,
): { clientId: string; scopes: string[] } | undefined {
  try {
    const payload = decodeJwt(token);
    const clientId = payload[OAUTH_CLIENT_ID_CLAIM];
    if (typeof clientId !== 'string') return undefined;
    const scope = payload[OAUTH_SCOPE_CLAIM];
    return { clientId, scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [] };
  } catch {
    return undefined;
  }
}
