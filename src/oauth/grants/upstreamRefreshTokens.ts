import type { OAuthContext } from '../context';
import { upstreamRefreshTokenId, verifyUpstreamRefreshToken } from '../crypto/upstreamRefreshToken';
import { InvalidGrant } from '../errors';
import type { Client } from '../model';
import type { UpstreamRefreshTokenRecord } from '../stores';
import type { ChargeUser, TokenResponse } from './grant';
import { buildTokenResponse, startRefreshFamily, type GrantedAccess } from './issueTokens';

/**
 * Refresh tokens that upstream `@backstage/plugin-auth-backend` issued before
 * the swap (issue 13): a client presents one once more and gets tokens and a
 * refresh token of ours; the upstream row is deleted in the same step, so
 * the old token works exactly once. Upstream's rules hold while it is
 * honoured: bound to its client, idle lifetime from its last use, absolute
 * lifetime from its creation, the user still in the catalog.
 */

/**
 * The upstream refresh token `token` is, verified against its stored hash;
 * undefined when it is not one (wrong format, no such row, wrong secret).
 */
export async function findUpstreamRefreshToken(
  ctx: Pick<OAuthContext, 'upstreamRefreshTokens'>,
  token: string,
): Promise<UpstreamRefreshTokenRecord | undefined> {
  const id = upstreamRefreshTokenId(token);
  if (id === undefined) return undefined;
  const row = await ctx.upstreamRefreshTokens.find(id);
  if (!row || !(await verifyUpstreamRefreshToken(token, row.tokenHash))) return undefined;
  return row;
}

/** The refresh_token grant for an upstream token; undefined when `token` is not one of this client's. */
export async function redeemUpstreamRefreshToken(
  ctx: OAuthContext,
  token: string,
  client: Client,
  chargeUser: ChargeUser,
): Promise<TokenResponse | undefined> {
  const row = await findUpstreamRefreshToken(ctx, token);
  // Rows without a client (upstream's own device flow) cannot be bound to one: not honoured.
  if (!row || row.clientId !== client.clientId) return undefined;

  const now = ctx.clock().getTime();
  const { tokenLifetimeSeconds, maxRotationLifetimeSeconds, requireUserInCatalog } =
    ctx.config.refreshToken;
  if (
    row.lastUsedAt.getTime() + tokenLifetimeSeconds * 1000 <= now ||
    row.createdAt.getTime() + maxRotationLifetimeSeconds * 1000 <= now
  ) {
    await ctx.upstreamRefreshTokens.consume(row.id, row.tokenHash);
    throw new InvalidGrant('refresh token has expired');
  }
  // Before the row is consumed: refused as over budget, the token still works once.
  await chargeUser(row.userEntityRef);
  const user = await ctx.users.findUser(row.userEntityRef);
  if (!user && requireUserInCatalog) {
    await ctx.upstreamRefreshTokens.consume(row.id, row.tokenHash);
    throw new InvalidGrant('the user no longer exists in the catalog');
  }
  if (!(await ctx.upstreamRefreshTokens.consume(row.id, row.tokenHash))) {
    throw new InvalidGrant('refresh token was already used');
  }
  const familyId = `upstream:${row.id}`;
  const access: GrantedAccess = {
    client,
    userEntityRef: row.userEntityRef,
    // Upstream kept no scopes with its refresh tokens; it issued them for
    // `openid offline_access` sign-ins.
    scopes: ['openid', 'offline_access'],
    authTime: row.createdAt,
    user,
    grantId: familyId,
  };
  const successor = await startRefreshFamily(ctx, access, familyId, row.createdAt);
  return buildTokenResponse(ctx, access, successor);
}
