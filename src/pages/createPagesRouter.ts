import type { AuthService } from '@backstage/backend-plugin-api';
import { InputError, NotFoundError } from '@backstage/errors';
import cookieParser from 'cookie-parser';
import type express from 'express';
import Router from 'express-promise-router';
import type { OAuthContext } from '../oauth/context';
import { createConsentPageRouter } from './createConsentPageRouter';
import { createDevicePageRouter } from './createDevicePageRouter';
import { type BackLink, pageErrorHandler } from './pageErrors';
import { safeReturnPath } from './pageSecurity';
import type { PagesConfig } from './readPagesConfig';
import { createPageSessionRouter } from './signInShell';

/** Where the pages live; each is a path or a folder of paths. */
export const PAGE_PATHS = ['/v1/device', '/v1/consent', '/v1/page-session'] as const;

/** The pages' router, and how they answer a URL that is refused before any router sees it. */
export interface PagesRouter {
  router: express.Router;
  /**
   * For a request to a page, answers `problem` (bad bytes in its URL, found
   * by the plugin-wide guard) with the pages' HTML error page and returns
   * true; returns false for any other path.
   */
  answerBadUrl(problem: string, req: express.Request, res: express.Response, next: express.NextFunction): boolean;
}

/**
 * The plugin's own HTML pages (no frontend build needed): the device
 * verification page when the device grant is on, and the consent page when
 * `auth.oidcProvider.consentPage` is `builtin`. They are mounted outside the
 * OAuth router, and every error they meet, including an unknown path under
 * them or bad bytes in their URL, is answered with an HTML page that leads
 * back (pageErrors.ts).
 */
export function createPagesRouter(options: {
  ctx: OAuthContext;
  baseUrl: string;
  auth: AuthService;
  pages: PagesConfig;
}): PagesRouter {
  const { ctx, baseUrl, auth, pages } = options;
  const router = Router();
  const device = ctx.config.deviceAuthorization.enabled;
  const consent = ctx.config.consentPage === 'builtin';
  if (!device && !consent) return { router, answerBadUrl: () => false };

  const basePath = new URL(baseUrl).pathname.replace(/\/$/, '');
  const cookies = cookieParser();
  for (const path of PAGE_PATHS) router.use(path, cookies);
  const fallbackPath = device ? `${basePath}/v1/device` : `${basePath}/v1/consent/none`;
  router.use(createPageSessionRouter({ baseUrl, auth, fallbackPath }));
  if (device) {
    router.use(
      createDevicePageRouter({
        baseUrl,
        auth,
        clock: ctx.clock,
        audit: ctx.audit,
        clients: ctx.clients,
        deviceCodes: ctx.deviceCodes,
        limits: ctx.limits,
        pages,
        // Only wrong codes are counted: page views, sign-ins and decisions
        // from people behind one address must never run into a limit.
        wrongCodeLimit: ctx.config.rateLimits.verification,
      }),
    );
  }
  if (consent) router.use(createConsentPageRouter({ ctx, baseUrl, auth, pages }));

  const pagePaths = [
    '/v1/page-session',
    ...(device ? ['/v1/device', '/v1/device/*'] : []),
    ...(consent ? ['/v1/consent', '/v1/consent/*'] : []),
  ];
  router.all(pagePaths, () => {
    throw new NotFoundError('There is no page at this address.');
  });
  // The same paths, as Express matches them: case-insensitive, one trailing slash allowed.
  const pagePath = new RegExp(`^(?:${pagePaths.map(path => path.replace('*', '.*')).join('|')})/?$`, 'i');

  /** A way back from an error, chosen by the page it happened on. */
  const backLink = (req: express.Request): BackLink => {
    if (device && /^\/v1\/device(\/|$)/.test(req.path)) {
      return { href: `${basePath}/v1/device`, text: 'Back to “Connect a device”' };
    }
    const consentId = /^\/v1\/consent\/([A-Za-z0-9_.-]+)(\/|$)/.exec(req.path)?.[1];
    if (consent && consentId) {
      return { href: `${basePath}/v1/consent/${consentId}`, text: 'Back to the sign-in request' };
    }
    if (req.path === '/v1/page-session') {
      const returnTo = (req.body as Record<string, unknown> | undefined)?.return_to;
      return { href: safeReturnPath(baseUrl, returnTo, fallbackPath), text: 'Try signing in again' };
    }
    return { href: pages.appBaseUrl, text: 'Return to the portal' };
  };
  const answerError = pageErrorHandler({ logger: ctx.logger, backLink });
  router.use(answerError);
  return {
    router,
    answerBadUrl(problem, req, res, next) {
      if (!pagePath.test(req.path)) return false;
      const message = `This link is damaged: ${problem}. Open it again from where you found it, or use the link below.`;
      answerError(new InputError(message), req, res, next);
      return true;
    },
  };
}
