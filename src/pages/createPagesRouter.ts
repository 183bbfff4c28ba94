import type { AuthService } from '@backstage/backend-plugin-api';
import cookieParser from 'cookie-parser';
import type express from 'express';
import Router from 'express-promise-router';
import type { OAuthContext } from '../oauth/context';
import { rateLimit } from '../oauth/http/rateLimit';
import { createConsentPageRouter } from './createConsentPageRouter';
import { createDevicePageRouter } from './createDevicePageRouter';
import type { PagesConfig } from './readPagesConfig';
import { createPageSessionRouter } from './signInShell';

/**
 * The plugin's own HTML pages (no frontend build needed): the device
 * verification page when the device grant is on, and the consent page when
 * `auth.oidcProvider.consentPage` is `builtin`. They speak Backstage's error
 * format, so they are mounted outside the OAuth router.
 */
export function createPagesRouter(options: {
  ctx: OAuthContext;
  baseUrl: string;
  auth: AuthService;
  pages: PagesConfig;
}): express.Router {
  const { ctx, baseUrl, auth, pages } = options;
  const router = Router();
  const device = ctx.config.deviceAuthorization.enabled;
  const consent = ctx.config.consentPage === 'builtin';
  if (!device && !consent) return router;

  const basePath = new URL(baseUrl).pathname.replace(/\/$/, '');
  const limits = { limits: ctx.config.rateLimits, clock: ctx.clock, audit: ctx.audit };
  const cookies = cookieParser();
  if (device) router.use('/v1/device', rateLimit(limits, 'verification'));
  for (const path of ['/v1/device', '/v1/consent', '/v1/page-session']) router.use(path, cookies);
  router.use(
    createPageSessionRouter({
      baseUrl,
      auth,
      fallbackPath: device ? `${basePath}/v1/device` : `${basePath}/v1/consent/none`,
    }),
  );
  if (device) {
    router.use(
      createDevicePageRouter({
        baseUrl,
        auth,
        clock: ctx.clock,
        audit: ctx.audit,
        clients: ctx.clients,
        deviceCodes: ctx.deviceCodes,
        pages,
      }),
    );
  }
  if (consent) router.use(createConsentPageRouter({ ctx, baseUrl, auth, pages }));
  return router;
}
