import Router from 'express-promise-router';
import type express from 'express';
import type { OAuthContext } from '../context';
import { oauthErrorHandler } from './oauthErrorHandler';

/**
 * Mounts the OAuth/OIDC protocol endpoints. Every error they throw ends in
 * oauthErrorHandler as an RFC 6749 §5.2 body; the consent API and the pages,
 * which speak Backstage's error format, are mounted elsewhere.
 */
export function createOAuthRouter(ctx: OAuthContext): express.Router {
  const router = Router();
  // Endpoint routers are added here, one per endpoints/*.ts file.
  router.use(oauthErrorHandler(ctx.logger));
  return router;
}
