import { requireParams } from '../checks/requireParams';
import { randomToken } from '../crypto/randomToken';
import { sha256 } from '../crypto/sha256';
import { InvalidGrant, InvalidScope } from '../errors';
import type { OAuthContext } from '../context';
import type { RefreshTokenRecord } from '../stores';
import type { Grant } from './grant';
import { grantResource } from './grantResource';
import { buildTokenResponse, grantExpiry } from './issueTokens';
import { revokeGrant } from './revokeGrant';
import { redeemUpstreamRefreshToken } from './upstreamRefreshTokens';

/**
 * RFC 6749 §6 with rotation on every use and reuse detection
 * (RFC 9700 §4.14.2): presenting a token that was already rotated revokes the
 * whole family, since either the client or an attacker holds a stolen copy.
 */
export const refreshTokenGrant: Grant = {
  grantType: 'refresh_token',
  isEnabled: ctx => ctx.config.refreshToken.enabled,
  async handle({ params, client, chargeUser }, ctx) {
    requireParams(params, 'refresh_token');
    const now = ctx.clock();
    const tokenHash = sha256(params.refresh_token);
    const current = await ctx.refreshTokens.find(tokenHash);
    if (!current) {
      // Maybe a token upstream issued before the swap: honoured once, then ours.
      const adopted = await redeemUpstreamRefreshToken(ctx, params.refresh_token, client, chargeUser);
      if (adopted) return adopted;
    }
    // A token of another client is treated as unknown: nothing about it leaks or changes.
    if (!current || current.clientId !== client.clientId) {
      throw new InvalidGrant('refresh token is invalid');
    }
    if (current.status === 'rotated') {
      await revokeForReuse(ctx, current);
    }
    if (current.status === 'revoked') {
      throw new InvalidGrant('refresh token was revoked');
    }
    if (current.expiresAt <= now || current.familyExpiresAt <= now) {
      throw new InvalidGrant('refresh token has expired');
    }
    const scopes = narrowScopes(current.scopes, params.scope);
    const resource = grantResource(ctx, current.resource, params.resource, client);
    // Before the rotation: a refresh refused as over budget keeps its token.
    await chargeUser(current.userEntityRef);

    const user = await ctx.users.findUser(current.userEntityRef);
    if (!user && ctx.config.refreshToken.requireUserInCatalog) {
      await revokeGrant(ctx, grantOf(current));
      throw new InvalidGrant('the user no longer exists in the catalog');
    }

    const successor = randomToken();
    const rotation = await ctx.refreshTokens.rotate(
      tokenHash,
      {
        tokenHash: sha256(successor),
        familyId: current.familyId,
        clientId: current.clientId,
        userEntityRef: current.userEntityRef,
        // The family keeps its grant; a narrower request narrows only this response.
        scopes: current.scopes,
        ...(current.resource ? { resource: current.resource } : {}),
        authTime: current.authTime,
        acr: current.acr,
        amr: current.amr,
        createdAt: now,
        expiresAt: new Date(
          Math.min(
            now.getTime() + ctx.config.refreshToken.tokenLifetimeSeconds * 1000,
            current.familyExpiresAt.getTime(),
          ),
        ),
        familyExpiresAt: current.familyExpiresAt,
      },
      { now, grantExpiresAt: grantExpiry(ctx, current.familyExpiresAt) },
    );
    if (rotation === 'revoked') {
      // Its grant was revoked between our read and our rotation (issue 25 item 3).
      throw new InvalidGrant('refresh token was revoked');
    }
    if (rotation === 'stale') {
      // Someone rotated it between our read and our update: that is reuse too.
      await revokeForReuse(ctx, current);
    }
    return buildTokenResponse(
      ctx,
      {
        client,
        userEntityRef: current.userEntityRef,
        scopes,
        // OIDC Core §12.2: the original authentication, not this refresh.
        authTime: current.authTime,
        acr: current.acr,
        amr: current.amr,
        user,
        ...(resource ? { resource } : {}),
        grantId: current.familyId,
      },
      successor,
    );
  },
};

/** The grant a refresh token belongs to: its family. */
function grantOf(token: RefreshTokenRecord) {
  return { id: token.familyId, clientId: token.clientId, userEntityRef: token.userEntityRef };
}

async function revokeForReuse(ctx: OAuthContext, token: RefreshTokenRecord): Promise<never> {
  const revoked = await revokeGrant(ctx, grantOf(token));
  ctx.audit({
    eventId: 'refresh-token-reused',
    clientId: token.clientId,
    userEntityRef: token.userEntityRef,
    meta: { familyId: token.familyId, revokedRefreshTokens: revoked },
  });
  throw new InvalidGrant('refresh token was already used');
}

/** RFC 6749 §6: a refresh may ask for fewer scopes, never more. */
function narrowScopes(granted: string[], requested: string | undefined): string[] {
  if (requested === undefined) return granted;
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const extra = scopes.find(scope => !granted.includes(scope));
  if (extra !== undefined) {
    throw new InvalidScope(`scope '${extra}' was not granted to this refresh token`);
  }
  return scopes;
}
