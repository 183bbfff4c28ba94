import Router from 'express-promise-router';
import type express from 'express';
import { checkAuthenticationRequest } from '../checks/checkAuthenticationRequest';
import { checkCodeChallenge } from '../checks/checkPkce';
import { checkRedirectUri } from '../checks/checkRedirectUri';
import { redirectUriRuleViolation } from '../checks/redirectUriRule';
import { resolveResource, resourceOf } from '../checks/checkResource';
import { checkScope } from '../checks/checkScope';
import { requireParams } from '../checks/requireParams';
import type { OAuthContext } from '../context';
import {
  InvalidAuthorizationClient,
  InvalidAuthorizationRequest,
  InvalidRequest,
  OAuthError,
  RequestNotSupported,
  RequestUriNotSupported,
  UnauthorizedClient,
  UnsupportedResponseType,
} from '../errors';
import { noStore } from '../http/noStore';
import { noteRefusal } from '../http/observeRequests';
import { parseParams, type OAuthParams } from '../http/parseParams';
import { clientKindOf } from '../metrics';
import type { Client } from '../model';
import { appendQuery } from './appendQuery';

/** Long enough for the frameworks that pack a whole return URL into `state`. */
export const MAX_STATE_LENGTH = 4096;
/** `nonce` is stored in a varchar(255) column of upstream's schema. */
export const MAX_NONCE_LENGTH = 255;
/**
 * A request's handle rides in URLs (the consent page's, the consent API's):
 * beyond this, proxies and servers refuse them (Node's default header limit
 * is 16 KB). A `state` of 4096 plain characters fits with room to spare.
 */
export const MAX_HANDLE_LENGTH = 8192;

/** Where errors of this request may be redirected, once it is known to be safe. */
interface RedirectTarget {
  redirectUri: string;
  state?: string;
  /** Only clients from config get error redirects (RFC 9700 §4.11.2). */
  clientKind: Client['kind'];
}

declare module 'express-serve-static-core' {
  interface Locals {
    authorizationRedirect?: RedirectTarget;
  }
}

/**
 * The authorization endpoint (RFC 6749 §4.1.1). It validates in two phases:
 * until the client and its redirect URI are known good, errors are answered
 * with a 400 here (never a redirect, or it would be an open redirector);
 * after that they go back to the client with `state` and `iss` (RFC 9207).
 * A valid request is sealed into a handle and the user is sent with it to
 * approve. Nothing is stored: an anonymous request costs the server no row,
 * so no one can fill a table, or a client's share of one, for anyone else
 * (issue 25 item 1); the address's rate limit bounds the work.
 */
export function createAuthorizeEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  const authorize: express.RequestHandler = async (req, res) => {
    const params = req.oauthParams ?? {};
    const client = await findClientAndRedirectUri(ctx, params);
    res.locals.authorizationRedirect = {
      redirectUri: params.redirect_uri,
      state: params.state,
      clientKind: client.kind,
    };

    const request = checkAuthorizationRequest(ctx, client, params);
    const handle = await ctx.authorizationRequests.seal({
      clientId: client.clientId,
      redirectUri: params.redirect_uri,
      scopes: request.scopes,
      ...(request.resource ? { resource: request.resource } : {}),
      ...(params.state !== undefined ? { state: params.state } : {}),
      ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      expiresAt: new Date(ctx.clock().getTime() + ctx.config.consentSessionLifetimeSeconds * 1000),
      ...(request.authentication ? { requirements: request.authentication } : {}),
    });
    if (handle.length > MAX_HANDLE_LENGTH) {
      // Not redirected: a redirect would carry the same oversized state back.
      throw new InvalidAuthorizationRequest(
        'the authorization request is too large to carry to the consent page; send a shorter state',
      );
    }
    ctx.metrics.authorizationRequested({ clientKind: clientKindOf(ctx.issuer, client) });
    // A bare 302: Express's redirect() would negotiate a "Redirecting to"
    // body by Accept, which no user agent shows (issue 15: CPU per request).
    res.location(ctx.consentPageUrl(handle));
    res.status(302).end();
  };
  router.get('/v1/authorize', noStore, ...parseParams('query'), authorize);
  // OIDC Core §3.1.2.1: the endpoint must support POST (form) as well.
  router.post('/v1/authorize', noStore, ...parseParams('body'), authorize);
  router.use('/v1/authorize', redirectAuthorizationErrors(ctx.issuer));
  return router;
}

/** Phase one: errors here are shown to the user agent, never redirected. */
async function findClientAndRedirectUri(ctx: OAuthContext, params: OAuthParams): Promise<Client> {
  requireParams(params, 'client_id');
  const client = await ctx.clients.findClient(params.client_id);
  if (!client) {
    throw new InvalidAuthorizationClient('unknown client_id');
  }
  // OIDC Core §3.1.2.1 makes redirect_uri mandatory; so do we, for every client.
  requireParams(params, 'redirect_uri');
  if (!checkRedirectUri(client.redirectUris, params.redirect_uri)) {
    throw new InvalidAuthorizationRequest('redirect_uri is not registered for this client');
  }
  // Rows registered before the rule existed (e.g. by upstream) are held to it too.
  const violation = redirectUriRuleViolation(params.redirect_uri);
  if (violation !== undefined) {
    throw new InvalidAuthorizationRequest(`redirect_uri ${violation}`);
  }
  return client;
}

/** Phase two: errors here are redirected to the client. */
function checkAuthorizationRequest(ctx: OAuthContext, client: Client, params: OAuthParams) {
  if (params.state !== undefined && params.state.length > MAX_STATE_LENGTH) {
    throw new InvalidRequest(`state must be at most ${MAX_STATE_LENGTH} characters`);
  }
  requireParams(params, 'response_type');
  if (params.response_type !== 'code') {
    throw new UnsupportedResponseType("only response_type 'code' is supported");
  }
  if (!client.grantTypes.includes('authorization_code')) {
    throw new UnauthorizedClient('the client is not registered for the authorization_code grant');
  }
  // Discovery advertises response_modes_supported: ["query"] (OAuth 2.0 Multiple Response Types §2.1).
  if (params.response_mode !== undefined && params.response_mode !== 'query') {
    throw new InvalidRequest(`response_mode '${params.response_mode}' is not supported; use 'query'`);
  }
  if (params.request !== undefined) {
    throw new RequestNotSupported('request objects are not supported');
  }
  if (params.request_uri !== undefined) {
    throw new RequestUriNotSupported('request_uri is not supported');
  }
  if (params.nonce !== undefined && params.nonce.length > MAX_NONCE_LENGTH) {
    throw new InvalidRequest(`nonce must be at most ${MAX_NONCE_LENGTH} characters`);
  }
  const pkce = checkCodeChallenge(params);
  // prompt, max_age, acr_values: honoured or refused, never ignored (issue 14).
  const authentication = checkAuthenticationRequest(
    params,
    {
      canReauthenticate: ctx.config.consentPage === 'builtin',
      acrValuesSupported: ctx.config.acrValuesSupported,
    },
    ctx.clock(),
  );
  const target = resolveResource(params.resource, {
    issuer: ctx.issuer,
    resources: ctx.config.resources,
    client,
  });
  const scopes = checkScope(params.scope, {
    refreshEnabled: ctx.config.refreshToken.enabled,
    clientScopes: client.scopes,
    ...(target.kind === 'server' ? { resourceScopes: target.server.scopes } : {}),
  });
  return { ...pkce, scopes, resource: resourceOf(target), authentication };
}

/**
 * Sends phase-two errors back to the client (RFC 6749 §4.1.2.1, RFC 9207 §2),
 * but only to clients from config: anyone can register a DCR client or
 * publish a metadata document, and redirecting for them before the user has
 * acted would make the portal an open redirector (RFC 9700 §4.11.2). Their
 * errors are shown instead.
 */
function redirectAuthorizationErrors(issuer: string): express.ErrorRequestHandler {
  return (err, _req, res, next) => {
    const target = res.locals.authorizationRedirect;
    if (
      !target ||
      target.clientKind !== 'static' ||
      !(err instanceof OAuthError) ||
      !err.mayRedirect ||
      res.headersSent
    ) {
      next(err);
      return;
    }
    noteRefusal(res, err.code);
    res.redirect(
      302,
      appendQuery(target.redirectUri, {
        error: err.code,
        error_description: err.description,
        state: target.state,
        iss: issuer,
      }),
    );
  };
}
