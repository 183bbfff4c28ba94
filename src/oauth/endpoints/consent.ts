import { ConflictError, NotFoundError } from '@backstage/errors';
import Router from 'express-promise-router';
import express from 'express';
import type { AuthorizationRequest } from '../authorizationRequests';
import { describeClient } from '../clients/describeClient';
import type { OAuthContext } from '../context';
import { displayUri } from '../displayText';
import { approveRequest, openRequest, rejectRequest } from './decideRequest';

/** Who is calling: resolves the Backstage user behind a request, or throws. */
export type AuthenticateUser = (req: express.Request) => Promise<{ userEntityRef: string }>;

/** The consent API's folder: `/v1/sessions/:id`, `…/approve`, `…/reject`. */
export const CONSENT_API_PATH = '/v1/sessions';

/**
 * The consent API behind `@backstage/plugin-auth`'s consent page (SPEC §1.8).
 * `:id` is the request's handle, which the authorization endpoint put into
 * the page's URL. It speaks Backstage's error format, so it is mounted
 * outside the OAuth router. Only a signed-in user can decide, each request
 * gets exactly one decision, and the decision binds it to that user.
 */
export function createConsentRouter(
  ctx: OAuthContext,
  authenticateUser: AuthenticateUser,
): express.Router {
  const router = Router();
  router.use(CONSENT_API_PATH, express.json({ limit: '1kb' }));

  router.get('/v1/sessions/:id', async (req, res) => {
    const request = await findRequest(ctx, req.params.id);
    if (await ctx.sessions.isDecided(request.id)) {
      throw new ConflictError('authorization session was already decided');
    }
    const client = describeClient(await ctx.clients.findClient(request.clientId), request.clientId);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      id: req.params.id,
      clientId: request.clientId,
      // @backstage/plugin-auth's page shows this one string: it carries the
      // host that vouches for a self-chosen name (SPEC §2 Authorization).
      clientName: client.label,
      ...(client.verifiedHost ? { clientHost: client.verifiedHost } : {}),
      scope: request.scopes.join(' '),
      // Shown to the user: as a browser would go there (issue 25 item 7).
      // The redirect itself is approve's `redirectUrl`, built from the original.
      redirectUri: displayUri(request.redirectUri),
      // RFC 8707: the resource server outside Backstage the tokens would be for.
      ...(request.resource ? { resource: displayUri(request.resource) } : {}),
    });
  });

  router.post('/v1/sessions/:id/approve', async (req, res) => {
    const { userEntityRef } = await authenticateUser(req);
    const request = await findRequest(ctx, req.params.id);
    // The app's page cannot send the user to sign in again: a sign-in that
    // does not meet max_age or acr_values ends the request (issue 14).
    const redirectUrl = await approveRequest(ctx, request, userEntityRef);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ redirectUrl: redirectUrl ?? alreadyDecided() });
  });

  router.post('/v1/sessions/:id/reject', async (req, res) => {
    const { userEntityRef } = await authenticateUser(req);
    const request = await findRequest(ctx, req.params.id);
    const redirectUrl = await rejectRequest(ctx, request, userEntityRef);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ redirectUrl: redirectUrl ?? alreadyDecided() });
  });
  return router;
}

async function findRequest(ctx: OAuthContext, handle: string): Promise<AuthorizationRequest> {
  const request = await openRequest(ctx, handle);
  if (!request) throw new NotFoundError('authorization session not found or expired');
  return request;
}

function alreadyDecided(): never {
  throw new ConflictError('authorization session was already decided');
}
