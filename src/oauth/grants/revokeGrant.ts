import type { OAuthContext } from '../context';

/**
 * Revokes a grant and every token it produced (refresh tokens at once;
 * access tokens as introspection answers them), remembering the revocation
 * for as long as an access token issued up to now can live: a user token's
 * lifetime, plus a code's, for an exchange that raced the revocation.
 * Returns how many refresh tokens were still usable.
 */
export async function revokeGrant(
  ctx: Pick<OAuthContext, 'clock' | 'config' | 'refreshTokens' | 'signer'>,
  grant: { id: string; clientId: string; userEntityRef: string },
): Promise<number> {
  const now = ctx.clock();
  const keepUntil = new Date(
    now.getTime() + (ctx.signer.tokenLifetimeSeconds + ctx.config.authorizationCodeLifetimeSeconds) * 1000,
  );
  return ctx.refreshTokens.revokeGrant({ ...grant, now, keepUntil });
}
