import Router from 'express-promise-router';
import type express from 'express';
import { authenticateClient } from '../clients/authenticateClient';
import { requireParams } from '../checks/requireParams';
import type { OAuthContext } from '../context';
import { UnauthorizedClient, UnsupportedGrantType } from '../errors';
import { type ChargeUser, grants } from '../grants';
import { exchangeToken } from '../grants/tokenExchange';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../supportedScopes';
import { findUpstreamRefreshToken } from '../grants/upstreamRefreshTokens';
import { noStore } from '../http/noStore';
import type { ClientBudget } from '../http/rateLimit';
import { parseParams, type OAuthParams } from '../http/parseParams';
import { sha256 } from '../crypto/sha256';
import { clientKindOf } from '../metrics';
import type { Client } from '../model';

/**
 * The token endpoint (RFC 6749 §3.2): authenticate the client, pick the
 * grant by `grant_type`, check the client may use it, run it.
 */
export function createTokenEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  router.post('/v1/token', noStore, ...parseParams('body'), async (req, res) => {
    const params = req.oauthParams ?? {};
    // RFC 8693: the caller is a Backstage service acting for a user, not an OAuth client.
    if (params.grant_type === TOKEN_EXCHANGE_GRANT_TYPE) {
      const exchanged = await exchangeToken(ctx, req, params);
      ctx.metrics.tokensIssued({ grantType: TOKEN_EXCHANGE_GRANT_TYPE, clientKind: 'backstage-service' });
      res.json(exchanged);
      return;
    }
    const client = await authenticateClient(req, params, ctx.clients, {
      clientOfGrant: () => clientOfPresentedGrant(ctx, params),
    });
    const chargeUser = await chargeBudget(res.locals.clientBudget, client);
    requireParams(params, 'grant_type');
    const grant = grants.get(params.grant_type);
    if (!grant || !grant.isEnabled(ctx)) {
      throw new UnsupportedGrantType(`grant_type '${params.grant_type}' is not supported`);
    }
    if (!client.grantTypes.includes(grant.grantType)) {
      throw new UnauthorizedClient(`the client is not registered for grant_type '${grant.grantType}'`);
    }
    const tokens = await grant.handle({ params, client, chargeUser }, ctx);
    ctx.metrics.tokensIssued({ grantType: grant.grantType, clientKind: clientKindOf(ctx.issuer, client) });
    res.json(tokens);
  });
  return router;
}

const chargeNobody: ChargeUser = async () => undefined;

/**
 * Charges the client's budget (issue 25 item 2). A confidential client is
 * charged now that it authenticated. A public client's id proves nothing and
 * is shared by all its users, so its grants are charged to the user whose
 * grant the request presents: the grant calls the returned hook once it
 * knows whose it is, and nobody can spend another user's budget.
 */
async function chargeBudget(budget: ClientBudget | undefined, client: Client): Promise<ChargeUser> {
  if (!budget) return chargeNobody;
  if (client.tokenEndpointAuthMethod !== 'none') {
    await budget.take(client.clientId);
    return chargeNobody;
  }
  return userEntityRef => budget.takeForUser(client.clientId, userEntityRef);
}

/**
 * The client of the code or refresh token a request presents, for public
 * clients that send no `client_id`: the Backstage CLI on refresh (and, up
 * to cli-module-auth 0.1.5, on the code exchange, which upstream accepts).
 */
async function clientOfPresentedGrant(
  ctx: OAuthContext,
  params: OAuthParams,
): Promise<string | undefined> {
  if (params.grant_type === 'refresh_token' && params.refresh_token) {
    const ours = await ctx.refreshTokens.find(sha256(params.refresh_token));
    if (ours) return ours.clientId;
    return (await findUpstreamRefreshToken(ctx, params.refresh_token))?.clientId ?? undefined;
  }
  if (params.grant_type === 'authorization_code' && params.code) {
    return ctx.codes.findClientId(sha256(params.code));
  }
  return undefined;
}
