import { checkPkce } from '../checks/checkPkce';
import { requireParams } from '../checks/requireParams';
import { sha256 } from '../crypto/sha256';
import { InvalidGrant } from '../errors';
import type { Grant } from './grant';
import { grantResource } from './grantResource';
import { buildTokenResponse, startRefreshFamily, wantsRefreshToken, type GrantedAccess } from './issueTokens';
import { revokeGrant } from './revokeGrant';

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5). The code is consumed first, by
 * a single conditional update, so every later check runs on a code nobody
 * else can use: a failed verifier burns the code rather than allowing guesses.
 */
export const authorizationCodeGrant: Grant = {
  grantType: 'authorization_code',
  isEnabled: () => true,
  async handle({ params, client, chargeUser }, ctx) {
    requireParams(params, 'code', 'redirect_uri');
    const result = await ctx.codes.redeem(sha256(params.code), ctx.clock());
    if (result.kind === 'replayed') {
      // RFC 6749 §4.1.2: a code used twice revokes what it produced. The
      // grant is revoked (and remembered as long as its tokens can live):
      // a refresh token the first redemption has yet to store is never
      // stored (see startRefreshFamily), one already stored is revoked.
      const revoked = await revokeGrant(ctx, {
        id: result.sessionId,
        clientId: result.clientId,
        userEntityRef: result.userEntityRef ?? '',
      });
      ctx.audit({
        eventId: 'code-replayed',
        clientId: result.clientId,
        userEntityRef: result.userEntityRef,
        meta: { sessionId: result.sessionId, revokedRefreshTokens: revoked },
      });
      throw new InvalidGrant('authorization code was already used');
    }
    if (result.kind !== 'redeemed') {
      throw new InvalidGrant('authorization code is invalid or expired');
    }
    const { session } = result.code;
    if (session.clientId !== client.clientId) {
      throw new InvalidGrant('authorization code was issued to another client');
    }
    // We won the code, so this is its one redemption.
    if (session.status !== 'approved' || !session.userEntityRef) {
      throw new InvalidGrant('authorization code is invalid or expired');
    }
    // RFC 6749 §4.1.3: identical to the value sent to the authorization endpoint.
    if (params.redirect_uri !== session.redirectUri) {
      throw new InvalidGrant('redirect_uri does not match the authorization request');
    }
    checkPkce(session, params.code_verifier);
    const resource = grantResource(ctx, session.resource, params.resource, client);
    // Charged only now that the verifier proved the code is the caller's.
    // The code is spent by then (its redemption is what names the user), so
    // a user refused here signs in again once their budget allows.
    await chargeUser(session.userEntityRef);

    const access: GrantedAccess = {
      client,
      userEntityRef: session.userEntityRef,
      scopes: session.scopes,
      // The sign-in that approved (issue 14). A session approved before
      // those were recorded: the approval, minted with the code (expiry - lifetime).
      ...(result.code.authentication ?? {
        authTime: new Date(
          result.code.expiresAt.getTime() - ctx.config.authorizationCodeLifetimeSeconds * 1000,
        ),
      }),
      nonce: session.nonce,
      user: await lookupProfile(ctx, session.userEntityRef, session.scopes),
      savedClaims: result.code.savedClaims,
      ...(resource ? { resource } : {}),
      grantId: session.id,
    };
    // A replay racing this redemption revokes the grant: then tokens, but no
    // refresh token (the family is never started), and introspection calls
    // the access token inactive.
    const refreshToken = wantsRefreshToken(ctx, access) ? await startRefreshFamily(ctx, access, session.id) : undefined;
    // Of any number of concurrent redemptions exactly this one succeeds; a
    // self-contained access token cannot be taken back, the refresh token is.
    return buildTokenResponse(ctx, access, refreshToken);
  },
};

async function lookupProfile(
  ctx: Parameters<Grant['handle']>[1],
  userEntityRef: string,
  scopes: string[],
): Promise<GrantedAccess['user']> {
  if (!scopes.includes('profile') && !scopes.includes('email')) return undefined;
  return ctx.users.findUser(userEntityRef);
}
