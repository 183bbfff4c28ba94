import { randomUUID } from 'node:crypto';
import type { ResourceServerConfig } from '../../config/readOidcProviderConfig';
import type { OAuthContext } from '../context';
import { OAUTH_GRANT_CLAIM } from '../oauthClientTokens';

/** RFC 9068 §2.1: the `typ` of a JWT access token, which Backstage's own APIs never accept. */
export const RESOURCE_ACCESS_TOKEN_TYP = 'at+jwt';

/** Who a resource access token is for and what it allows. */
export interface ResourceAccessGrant {
  server: ResourceServerConfig;
  userEntityRef: string;
  /** The OAuth client, or for an exchanged token the service acting for the user. */
  clientId: string;
  scopes: string[];
  authTime?: Date;
  /** The grant (session or refresh family) the token came from, so introspection can see it revoked. */
  grantId?: string;
  /** RFC 8693 §4.1: the party acting for the user. */
  actor?: string;
  /** Never later than this (an exchanged token outlives no subject token). */
  notAfter?: Date;
}

/**
 * Signs an RFC 9068 JWT access token for a resource server outside Backstage:
 * `typ: at+jwt`, `aud` = the resource, `client_id`, `scope`, `jti`,
 * `auth_time`, with the portal's keys (so it verifies through the portal's
 * JWKS), living as long as a Backstage user token at most.
 */
export async function signResourceAccessToken(
  ctx: Pick<OAuthContext, 'signer' | 'clock'>,
  grant: ResourceAccessGrant,
): Promise<{ token: string; expiresInSeconds: number }> {
  let expiresInSeconds = ctx.signer.tokenLifetimeSeconds;
  if (grant.notAfter) {
    const left = Math.floor((grant.notAfter.getTime() - ctx.clock().getTime()) / 1000);
    expiresInSeconds = Math.min(expiresInSeconds, left);
  }
  const token = await ctx.signer.signJwt(
    {
      aud: grant.server.resource,
      sub: grant.userEntityRef,
      client_id: grant.clientId,
      scope: grant.scopes.join(' '),
      jti: randomUUID(),
      ...(grant.authTime ? { auth_time: Math.floor(grant.authTime.getTime() / 1000) } : {}),
      ...(grant.grantId ? { [OAUTH_GRANT_CLAIM]: grant.grantId } : {}),
      ...(grant.actor ? { act: { sub: grant.actor } } : {}),
    },
    { typ: RESOURCE_ACCESS_TOKEN_TYP, expiresInSeconds },
  );
  return { token, expiresInSeconds };
}
