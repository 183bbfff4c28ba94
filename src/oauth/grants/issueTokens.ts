import type { OAuthContext } from '../context';
import type { Client } from '../model';
import { OFFLINE_ACCESS } from '../checks/checkScope';
import { randomToken } from '../crypto/randomToken';
import { sha256 } from '../crypto/sha256';
import type { DirectoryUser, SavedUserClaims } from '../stores';
import { OAUTH_CLIENT_ID_CLAIM, OAUTH_GRANT_CLAIM, OAUTH_SCOPE_CLAIM } from '../oauthClientTokens';
import type { TokenResponse } from './grant';
import { profileClaims } from './profileClaims';
import { signResourceAccessToken } from './resourceAccessToken';
import type { ResourceServerConfig } from '../../config/readOidcProviderConfig';

/** What a grant proved: who approved what, for which client, and when. */
export interface GrantedAccess {
  client: Client;
  userEntityRef: string;
  scopes: string[];
  /** When the user last authenticated through a sign-in provider (issue 14). */
  authTime: Date;
  /** How, when the provider said (OIDC Core §2 `acr`, RFC 8176 `amr`). */
  acr?: string;
  amr?: string[];
  nonce?: string;
  /** The catalog entry, when the grant looked it up; used for profile/email claims. */
  user?: DirectoryUser;
  /**
   * The user's saved claims when the grant already read them (null: none
   * saved); undefined makes the response read them.
   */
  savedClaims?: SavedUserClaims | null;
  /** The resource server outside Backstage the tokens are for (RFC 8707); none means Backstage. */
  resource?: ResourceServerConfig;
  /** The authorization session or refresh family the tokens come from. */
  grantId?: string;
}

/**
 * Whether a grant earns a refresh token: `offline_access` was granted,
 * refresh tokens are on, and the client is registered for the grant type.
 */
export function wantsRefreshToken(ctx: OAuthContext, access: GrantedAccess): boolean {
  return (
    ctx.config.refreshToken.enabled &&
    access.scopes.includes(OFFLINE_ACCESS) &&
    access.client.grantTypes.includes('refresh_token')
  );
}

/**
 * Starts a rotation family for a fresh grant and returns the refresh token;
 * undefined when the grant was revoked first (a replayed code). `familyId`
 * ties the family to what produced it (the authorization session), so a
 * replayed code can revoke it (RFC 6749 §4.1.2).
 */
export async function startRefreshFamily(
  ctx: OAuthContext,
  access: GrantedAccess,
  familyId: string,
  /** When the family started, if before now (a token adopted from upstream); its lifetime counts from then. */
  startedAt?: Date,
): Promise<string | undefined> {
  const { tokenLifetimeSeconds, maxRotationLifetimeSeconds, maxTokensPerUser } =
    ctx.config.refreshToken;
  const now = ctx.clock();
  const familyStart = startedAt ?? now;
  const token = randomToken();
  const familyExpiresAt = new Date(familyStart.getTime() + maxRotationLifetimeSeconds * 1000);
  const started = await ctx.refreshTokens.issue(
    {
      tokenHash: sha256(token),
      familyId,
      clientId: access.client.clientId,
      userEntityRef: access.userEntityRef,
      scopes: access.scopes,
      ...(access.resource ? { resource: access.resource.resource } : {}),
      authTime: access.authTime,
      acr: access.acr,
      amr: access.amr,
      createdAt: now,
      expiresAt: new Date(
        Math.min(
          now.getTime() + tokenLifetimeSeconds * 1000,
          familyStart.getTime() + maxRotationLifetimeSeconds * 1000,
        ),
      ),
      familyExpiresAt,
    },
    { maxActivePerUser: maxTokensPerUser, grantExpiresAt: grantExpiry(ctx, familyExpiresAt) },
  );
  return started ? token : undefined;
}

/**
 * Until when a token of a refresh family's grant can be valid: a refresh
 * just before the family's end issues an access token that lives on after it.
 */
export function grantExpiry(ctx: Pick<OAuthContext, 'signer'>, familyExpiresAt: Date): Date {
  return new Date(familyExpiresAt.getTime() + ctx.signer.tokenLifetimeSeconds * 1000);
}

/**
 * Signs the access token (a Backstage user token for the approving user, so
 * every Backstage API accepts it) and, when `openid` was granted, an ID token
 * (OIDC Core §2), then shapes the RFC 6749 §5.1 response.
 */
export async function buildTokenResponse(
  ctx: OAuthContext,
  access: GrantedAccess,
  refreshToken?: string,
): Promise<TokenResponse> {
  const [{ token, expiresInSeconds }, idToken] = await Promise.all([
    access.resource
      ? signResourceAccessToken(ctx, { ...access, server: access.resource, clientId: access.client.clientId })
      : issueBackstageAccessToken(ctx, access),
    access.scopes.includes('openid')
      ? ctx.signer.signJwt(idTokenClaims(access), {
          typ: 'JWT',
          expiresInSeconds: ctx.signer.tokenLifetimeSeconds,
          ...(access.client.idTokenSignedResponseAlg ? { alg: access.client.idTokenSignedResponseAlg } : {}),
        })
      : undefined,
  ]);
  const response: TokenResponse = {
    access_token: token,
    token_type: 'Bearer',
    expires_in: expiresInSeconds,
    scope: access.scopes.join(' '),
  };
  if (idToken !== undefined) response.id_token = idToken;
  if (refreshToken) response.refresh_token = refreshToken;
  return response;
}

/** The access token for Backstage itself: a Backstage user token every Backstage API accepts. */
async function issueBackstageAccessToken(
  ctx: OAuthContext,
  access: GrantedAccess,
): Promise<{ token: string; expiresInSeconds: number }> {
  // Of the claims saved at the user's sign-in, only the ownership refs, which
  // go into the token where the portal's own would carry them
  // (auth.omitIdentityTokenOwnershipClaim): a sign-in resolver's custom
  // claims are the portal's, and no scope grants them (issue 25 item 8).
  // Claims just read from user_info are not written back (one write less per
  // exchange); only a user with no saved claims gets the defaults saved, so
  // /v1/userinfo answers for the token.
  const saved =
    access.savedClaims === undefined
      ? (await ctx.signer.getUserInfo(access.userEntityRef))?.claims
      : (access.savedClaims ?? undefined);
  const claims = { sub: access.userEntityRef, ...(saved?.ent ? { ent: saved.ent } : {}) };
  return ctx.signer.issueUserToken({
    claims,
    saveUserInfo: saved === undefined,
    forOAuthClient: true,
    // Marks the token as an OAuth client's: it may call APIs, never grant access.
    tokenClaims: {
      [OAUTH_CLIENT_ID_CLAIM]: access.client.clientId,
      [OAUTH_SCOPE_CLAIM]: access.scopes.join(' '),
      ...(access.grantId ? { [OAUTH_GRANT_CLAIM]: access.grantId } : {}),
    },
  });
}

function idTokenClaims(access: GrantedAccess): Record<string, unknown> {
  const { client, user } = access;
  return {
    sub: access.userEntityRef,
    aud: client.clientId,
    // OIDC Core §2: azp names the party the token was issued to.
    azp: client.clientId,
    auth_time: Math.floor(access.authTime.getTime() / 1000),
    ...(access.acr !== undefined ? { acr: access.acr } : {}),
    ...(access.amr !== undefined ? { amr: access.amr } : {}),
    ...(access.nonce !== undefined ? { nonce: access.nonce } : {}),
    ...profileClaims(user, access.scopes),
  };
}
