import { tokenTypes } from '@backstage/plugin-auth-node';
import { decodeJwt, decodeProtectedHeader } from 'jose';

/**
 * The claim that marks a Backstage user token minted by the token endpoint
 * for an OAuth client (RFC 9068 §2.2 names the same claim): its value is the
 * client's id. Portal sign-ins never carry it.
 */
export const OAUTH_CLIENT_ID_CLAIM = 'client_id';
/** The scopes granted to that client, space-separated (RFC 9068 §2.2.3). */
export const OAUTH_SCOPE_CLAIM = 'scope';
/**
 * The grant (consent session or refresh-token family) a token of an OAuth
 * client came from, so introspection can tell it revoked (issue 25 item 4):
 * the client's session with the portal, as `sid` names it in RFC 9068 tokens.
 */
export const OAUTH_GRANT_CLAIM = 'sid';

/** Starts every key id that OAuth clients' access tokens are signed under. */
const OAUTH_CLIENT_KID_PREFIX = 'oauth-client:';

/**
 * The key id an OAuth client's access token is signed under: another name
 * for the same key, which the JWKS lists under both. The framework rebuilds
 * a limited user token with the full token's `kid`, and nothing else in that
 * token is ours to choose, so the kid is what still tells a limited token
 * rebuilt from a client's token from one of a portal sign-in (issue 25
 * item 8). Forging it would take a new signature.
 */
export function oauthClientKeyId(kid: string): string {
  return `${OAUTH_CLIENT_KID_PREFIX}${kid}`;
}

/** Whether `kid` is one that {@link oauthClientKeyId} makes; no key of a key store may be. */
export function isOAuthClientKeyId(kid: string): boolean {
  return kid.startsWith(OAUTH_CLIENT_KID_PREFIX);
}

/**
 * The OAuth client a Backstage user token was issued to, or undefined for a
 * token from a portal sign-in. Decodes without verifying: call it only on a
 * token the framework has already verified.
 */
export function oauthClientOfToken(token: string): string | undefined {
  return oauthGrantOfToken(token)?.clientId;
}

/**
 * The client, scopes and grant (issued since grants are recorded) a verified
 * token was issued to, or undefined for a portal sign-in.
 */
export function oauthGrantOfToken(
  token: string,
): { clientId: string; scopes: string[]; grantId?: string } | undefined {
  try {
    const payload = decodeJwt(token);
    const clientId = payload[OAUTH_CLIENT_ID_CLAIM];
    if (typeof clientId !== 'string') return undefined;
    const scope = payload[OAUTH_SCOPE_CLAIM];
    const grantId = payload[OAUTH_GRANT_CLAIM];
    return {
      clientId,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
      ...(typeof grantId === 'string' ? { grantId } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * What a bearer token the framework accepted as a user's says about the
 * OAuth client behind it: a full token names the client and its scopes; a
 * limited token — sent as it is, or in the `obo` claim of a plugin acting
 * for the user — carries only the key id of the token it was rebuilt from,
 * so it names neither and is granted no scope. Undefined for a portal
 * sign-in. Decodes without verifying: call it only on a verified token.
 */
export function oauthGrantBehindToken(
  token: string,
): { clientId?: string; scopes: string[]; grantId?: string } | undefined {
  const userToken = userTokenOf(token);
  if (userToken === undefined) return undefined;
  const grant = oauthGrantOfToken(userToken);
  if (grant) return grant;
  try {
    const { kid } = decodeProtectedHeader(userToken);
    return typeof kid === 'string' && isOAuthClientKeyId(kid) ? { scopes: [] } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a credential the framework accepted as a user's is a backend
 * plugin's token acting for the user (its `obo` carries the user's limited
 * token), rather than a token of the user's own.
 */
export function isPluginActingForUser(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === tokenTypes.plugin.typParam;
  } catch {
    return false;
  }
}

/** The user token itself, or the one a plugin token carries on the user's behalf. */
function userTokenOf(token: string): string | undefined {
  try {
    if (decodeProtectedHeader(token).typ !== tokenTypes.plugin.typParam) return token;
    const { obo } = decodeJwt(token);
    return typeof obo === 'string' ? obo : undefined;
  } catch {
    return undefined;
  }
}
