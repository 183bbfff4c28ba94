import Router from 'express-promise-router';
import type express from 'express';
import type { OAuthContext } from '../context';
import { createAuthorizeEndpoint } from '../endpoints/authorize';
import { createDeviceAuthorizationEndpoint } from '../endpoints/deviceAuthorization';
import { createRegisterEndpoint } from '../endpoints/register';
import { createRevokeEndpoint } from '../endpoints/revoke';
import { createIntrospectEndpoint } from '../endpoints/introspect';
import { createTokenEndpoint } from '../endpoints/token';
import { createUserInfoEndpoint } from '../endpoints/userinfo';
import { InvalidRequest, OAuthError, TooManyRequests } from '../errors';
import { noteRefusal, observeRequests } from './observeRequests';
import { oauthErrorHandler } from './oauthErrorHandler';
import { rateLimit } from './rateLimit';

/** The paths of the endpoints mounted below. */
export const OAUTH_ENDPOINT_PATHS = [
  '/v1/register',
  '/v1/authorize',
  '/v1/token',
  '/v1/revoke',
  '/v1/device_authorization',
  '/v1/userinfo',
  '/v1/introspect',
] as const;

/** {@link OAUTH_ENDPOINT_PATHS} as Express matches them (case-insensitive, with or without one trailing slash). */
const OAUTH_ENDPOINT_PATH = new RegExp(`^(?:${OAUTH_ENDPOINT_PATHS.join('|')})/?$`, 'i');

/**
 * Whether a request path (relative to the plugin) is one of the OAuth
 * endpoints, whose errors are RFC 6749 §5.2 bodies rather than Backstage ones.
 */
export function isOAuthEndpointPath(path: string): boolean {
  return OAUTH_ENDPOINT_PATH.test(path);
}

/**
 * Mounts the OAuth/OIDC protocol endpoints. Every error they throw ends in
 * oauthErrorHandler as an RFC 6749 §5.2 body; the consent API and the pages,
 * which speak Backstage's error format, are mounted elsewhere.
 */
export function createOAuthRouter(ctx: OAuthContext): express.Router {
  const router = Router();
  // First, so the token endpoint's time includes its rate limit.
  router.use(observeRequests(ctx.metrics, OAUTH_ENDPOINT_PATHS));
  // Rate limits run first, so an over-budget caller costs no parsing or DB work.
  const limits = { limits: ctx.config.rateLimits, store: ctx.limits, clock: ctx.clock, audit: ctx.audit };
  router.use('/v1/authorize', rateLimit(limits, 'authorization'));
  router.use('/v1/register', rateLimit(limits, 'registration'));
  router.use('/v1/token', rateLimit(limits, 'token'));
  router.use('/v1/device_authorization', rateLimit(limits, 'deviceAuthorization'));
  // Endpoint routers are added here, one per endpoints/*.ts file; Express
  // walks them in order, so the busiest come first (issue 15).
  router.use(createAuthorizeEndpoint(ctx));
  router.use(createTokenEndpoint(ctx));
  router.use(createRegisterEndpoint(ctx));
  router.use(createRevokeEndpoint(ctx));
  router.use(createUserInfoEndpoint(ctx));
  // RFC 7662 serves resource servers, so it exists when there are some.
  if (ctx.config.resources.length > 0) {
    router.use('/v1/introspect', rateLimit(limits, 'token', 'introspection'));
    router.use(createIntrospectEndpoint(ctx));
  }
  if (ctx.config.deviceAuthorization.enabled) router.use(createDeviceAuthorizationEndpoint(ctx));
  router.use('/v1/authorize', showAuthorizationErrorsToBrowsers(ctx));
  router.use(oauthErrorHandler(ctx.logger));
  return router;
}

/**
 * For bad bytes in the URL of `/v1/authorize`, refused before any router
 * sees the request (service/rejectForbiddenCharacters.ts): a browser gets
 * the same page as for any error that is not redirected, and returns true;
 * other callers, and other paths, are left to the guard's JSON (false).
 */
export function answerBadAuthorizationUrl(
  ctx: OAuthContext,
): (problem: string, req: express.Request, res: express.Response) => boolean {
  const show = showAuthorizationErrorsToBrowsers(ctx);
  return (problem, req, res) => {
    if (!/^\/v1\/authorize\/?$/i.test(req.path)) return false;
    let shown = true;
    // It calls next only when the request does not prefer HTML.
    show(new InvalidRequest(problem), req, res, () => {
      shown = false;
    });
    return shown;
  };
}

/**
 * Authorization errors that are not redirected reach a person in a browser:
 * they get a page rather than a JSON body. Other callers keep RFC 6749 JSON.
 */
function showAuthorizationErrorsToBrowsers(ctx: OAuthContext): express.ErrorRequestHandler {
  return (err, req, res, next) => {
    if (!(err instanceof OAuthError) || res.headersSent || req.accepts(['json', 'html']) !== 'html') {
      next(err);
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    if (err instanceof TooManyRequests) {
      res.setHeader('Retry-After', String(err.retryAfterSeconds));
    }
    noteRefusal(res, err.code);
    ctx.renderAuthorizationError(res, {
      status: err.status,
      code: err.code,
      description: err.description,
    });
  };
}
