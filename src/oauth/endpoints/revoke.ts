import Router from 'express-promise-router';
import type express from 'express';
import { authenticateClient } from '../clients/authenticateClient';
import { requireParams } from '../checks/requireParams';
import type { OAuthContext } from '../context';
import { revokeGrant } from '../grants/revokeGrant';
import { sha256 } from '../crypto/sha256';
import { noStore } from '../http/noStore';
import { parseParams } from '../http/parseParams';
import { findUpstreamRefreshToken } from '../grants/upstreamRefreshTokens';

/**
 * Token revocation (RFC 7009). Refresh tokens are revoked with their whole
 * family (§2.1). Unknown tokens, access tokens (self-contained Backstage
 * tokens that expire on their own) and tokens of other clients get the same
 * 200 (§2.2), so the endpoint reveals nothing about a presented value.
 */
export function createRevokeEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  router.post('/v1/revoke', noStore, ...parseParams('body'), async (req, res) => {
    const params = req.oauthParams ?? {};
    const presented = params.token === undefined ? undefined : await findRefreshToken(ctx, params.token);
    // A public client may revoke without naming itself (RFC 7009 §2.1 asks
    // authentication of confidential clients only), as the Backstage CLI does.
    const nameless = !req.headers.authorization && params.client_id === undefined;
    if (nameless && params.token !== undefined && !presented) {
      res.status(200).end(); // §2.2: an unknown token is answered like any other
      return;
    }
    const client = await authenticateClient(req, params, ctx.clients, {
      clientOfGrant: async () => presented?.clientId,
    });
    requireParams(params, 'token');
    if (presented && presented.clientId === client.clientId) {
      const revoked = await presented.revoke();
      ctx.audit({
        eventId: 'token-revoked',
        clientId: client.clientId,
        userEntityRef: presented.userEntityRef,
        meta: { familyId: presented.familyId, revokedRefreshTokens: revoked },
      });
    }
    res.status(200).end();
  });
  return router;
}

/** A presented refresh token, ours or one upstream issued before the swap, and how to revoke it. */
async function findRefreshToken(
  ctx: OAuthContext,
  token: string,
): Promise<
  { clientId: string; userEntityRef: string; familyId: string; revoke(): Promise<number> } | undefined
> {
  const ours = await ctx.refreshTokens.find(sha256(token));
  if (ours) {
    return {
      ...ours,
      revoke: () => revokeGrant(ctx, { id: ours.familyId, clientId: ours.clientId, userEntityRef: ours.userEntityRef }),
    };
  }
  const upstream = await findUpstreamRefreshToken(ctx, token);
  if (!upstream?.clientId) return undefined;
  return {
    clientId: upstream.clientId,
    userEntityRef: upstream.userEntityRef,
    familyId: `upstream:${upstream.id}`,
    revoke: async () => ((await ctx.upstreamRefreshTokens.consume(upstream.id, upstream.tokenHash)) ? 1 : 0),
  };
}
