import { InputError } from '@backstage/errors';
import type { Knex } from 'knex';
import { isInsideBackstage } from '../oauth/checks/checkResource';
import type express from 'express';
import Router from 'express-promise-router';
import { DbClientStore } from '../database/DbClientStore';
import { DbDeviceCodeStore } from '../database/DbDeviceCodeStore';
import { DbSecretKeyRing } from '../database/DbSecretKeyRing';
import { DbUpstreamOfflineSessionStore } from '../database/DbUpstreamOfflineSessionStore';
import type { Identity } from '../identity/createIdentity';
import { createClientResolver } from '../oauth/clients/createClientResolver';
import { createOutboundGuard } from '../oauth/outbound/createOutboundGuard';
import type { UserSignInStore } from '../oauth/authenticationContext';
import type { OAuthContext } from '../oauth/context';
import {
  createDiscoveryEndpoint,
  DISCOVERY_PATHS,
  createServerMetadataHandler,
  OAUTH_AUTHORIZATION_SERVER_PATH,
  OPENID_CONFIGURATION_PATH,
} from '../oauth/endpoints/discovery';
import { CONSENT_API_PATH } from '../oauth/endpoints/consent';
import { answerBadAuthorizationUrl, createOAuthRouter, OAUTH_ENDPOINT_PATHS } from '../oauth/http/createOAuthRouter';
import { builtinConsentPageUrl } from '../pages/createConsentPageRouter';
import { createPagesRouter, PAGE_PATHS } from '../pages/createPagesRouter';
import { renderAuthorizationError } from '../pages/renderAuthorizationError';
import { readPagesConfig } from '../pages/readPagesConfig';
import { createAuthorizationFlow } from './createAuthorizationFlow';
import type { RouterOptions } from './RouterOptions';
import { createOfflineSessionsRouter, OFFLINE_SESSIONS_REVOKE_PATH } from './createOfflineSessionsRouter';
import { onPaths } from './onPaths';
import { createLimitStore } from './sharedLimits/createLimitStore';
import { createSecurityAuditor } from './createSecurityAuditor';
import { createOAuthMetrics } from './authMetrics';
import { countRateLimitHits } from './countRateLimitHits';
import type { AnswerBadUrlInHtml } from './rejectForbiddenCharacters';

/**
 * Assembles the OpenID Connect provider: builds the OAuth context once (the
 * issuer is the plugin's external base URL, exactly) and mounts the protocol
 * endpoints, the consent API, the offline-sessions revocation (while refresh
 * tokens are on) and the discovery documents — including the
 * path-inserted root forms that MCP clients look for (RFC 8414 §3.1).
 * `answerBadUrlInHtml` tells the plugin-wide guard which of its refusals a
 * person's browser gets as a page (the pages, a browser at /v1/authorize).
 */
export async function createOidcProvider(
  options: RouterOptions & {
    knex: Knex;
    baseUrl: string;
    identity: Identity;
    signIns: UserSignInStore;
  },
): Promise<{ router: express.Router; answerBadUrlInHtml: AnswerBadUrlInHtml }> {
  const { knex, baseUrl: issuer, identity, logger } = options;
  const config = options.config.oidcProvider;
  checkResourcesOutsideBackstage(config.resources, issuer);
  const clock = () => new Date();
  const clientStore = DbClientStore.create({ knex });
  const upstreamRefreshTokens = DbUpstreamOfflineSessionStore.create({ knex });
  const secretKeys = DbSecretKeyRing.create({ knex, clock, logger });
  const metrics = createOAuthMetrics(options.metrics);
  const limits = countRateLimitHits(await createLimitStore({ ...options, clock }), metrics);
  const flow = createAuthorizationFlow({ ...options, appUrl: options.config.appUrl, secretKeys });

  const ctx: OAuthContext = {
    issuer,
    config,
    logger,
    clock,
    clients: await createClientResolver({
      config,
      store: clientStore,
      issuer,
      logger,
      clock,
      // Per instance; every request made on a client's behalf shares its slots.
      outbound: createOutboundGuard({
        allowInsecure: config.dangerouslyAllowInsecureClientIdMetadataDocuments,
        clock,
      }),
      idTokenAlgorithms: identity.jwtAlgorithms,
      sharedFailures: limits.marks('client-metadata-failure'),
      metrics,
    }),
    clientStore,
    upstreamRefreshTokens,
    audit: createSecurityAuditor(options.auditor, logger),
    metrics,
    limits,
    ...flow.context,
    ...(config.consentPage === 'builtin'
      ? { consentPageUrl: (handle: string) => builtinConsentPageUrl(issuer, handle) }
      : {}),
    deviceCodes: DbDeviceCodeStore.create({ knex, clock, keys: secretKeys }),
    renderAuthorizationError,
  };

  const signingAlgorithms = identity.jwtAlgorithms;
  mountRootMetadata(options, ctx, signingAlgorithms);

  // Each part only for its own paths (see onPaths); the busiest first.
  const router = Router();
  router.use(onPaths(OAUTH_ENDPOINT_PATHS, createOAuthRouter(ctx)));
  router.use(onPaths(DISCOVERY_PATHS, createDiscoveryEndpoint(ctx, { signingAlgorithms })));
  router.use(onPaths([CONSENT_API_PATH], flow.createConsentRouter(ctx)));
  if (config.refreshToken.enabled) {
    router.use(
      onPaths(
        [OFFLINE_SESSIONS_REVOKE_PATH],
        createOfflineSessionsRouter({
          httpAuth: options.httpAuth,
          refreshTokens: ctx.refreshTokens,
          upstreamSessions: upstreamRefreshTokens,
          audit: ctx.audit,
          clock,
        }),
      ),
    );
  }
  const pages = createPagesRouter({ ctx, baseUrl: issuer, auth: options.auth, pages: readPagesConfig(options.rootConfig) });
  router.use(onPaths(PAGE_PATHS, pages.router));
  const answerAuthorization = answerBadAuthorizationUrl(ctx);
  return {
    router,
    answerBadUrlInHtml: (problem, req, res, next) =>
      pages.answerBadUrl(problem, req, res, next) || answerAuthorization(problem, req, res),
  };
}

/**
 * The path-inserted discovery documents on the host's root (RFC 8414 §3.1,
 * where MCP clients look). `@backstage/plugin-mcp-actions-backend` already
 * serves everything under `/.well-known/oauth-authorization-server` when
 * OAuth is on, by proxying this plugin's own metadata, and the root router
 * refuses overlapping paths, whichever plugin comes second. So that route is
 * claimed only once every plugin has started, and only if nobody serves it:
 * the documents either way come from this plugin and agree.
 */
function mountRootMetadata(
  options: Pick<RouterOptions, 'rootHttpRouter' | 'lifecycle' | 'logger'>,
  ctx: OAuthContext,
  signingAlgorithms: string[],
): void {
  const handler = createServerMetadataHandler(ctx, { signingAlgorithms });
  const pluginPath = new URL(ctx.issuer).pathname.replace(/\/+$/, '');
  options.rootHttpRouter.use(`${OPENID_CONFIGURATION_PATH}${pluginPath}`, handler);
  const path = `${OAUTH_AUTHORIZATION_SERVER_PATH}${pluginPath}`;
  options.lifecycle.addStartupHook(() => {
    try {
      options.rootHttpRouter.use(path, handler);
    } catch (error) {
      options.logger.info(
        `${path} is served by another plugin (such as mcp-actions, which proxies this plugin's metadata): ${error}`,
      );
    }
  });
}

/**
 * A resource server of `auth.oidcProvider.resources` lives outside Backstage:
 * inside it, plugins take Backstage user tokens, which an audience-bound
 * token must never be mistaken for.
 */
function checkResourcesOutsideBackstage(resources: readonly { resource: string }[], issuer: string): void {
  resources.forEach(({ resource }, index) => {
    if (isInsideBackstage(new URL(resource), issuer)) {
      throw new InputError(
        `auth.oidcProvider.resources[${index}].resource: '${resource}' is inside this Backstage installation, whose plugins take Backstage tokens; list only resource servers outside it`,
      );
    }
  });
}
