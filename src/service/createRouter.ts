import Router from 'express-promise-router';
import type express from 'express';
import { cacheSqliteStatements } from '../database/cacheSqliteStatements';
import { DbUserSignInStore } from '../database/DbUserSignInStore';
import { applyDatabaseMigrations } from '../database/migrations';
import { createIdentity } from '../identity/createIdentity';
import { IDENTITY_PATHS } from '../identity/createIdentityRouter';
import { createProvidersRouter } from '../providers/createProvidersRouter';
import { scheduleCleanupTask } from './cleanupTask';
import { createOidcProvider } from './createOidcProvider';
import { databaseUnavailableHandler } from './databaseUnavailableHandler';
import { onPaths } from './onPaths';
import { rejectForbiddenCharacters } from './rejectForbiddenCharacters';
import type { RouterOptions } from './RouterOptions';
import { warnIfEveryProxyIsTrusted } from './warnIfEveryProxyIsTrusted';
import { warnOfIgnoredConfig } from './warnOfIgnoredConfig';

/**
 * Builds the stores and issuers once and mounts the sub-routers, behind a
 * guard that refuses control characters in any path or query:
 * identity (JWKS, userinfo), the OIDC provider, then the sign-in providers,
 * whose router also answers unknown paths with a Backstage 404.
 */
export async function createRouter(options: RouterOptions): Promise<express.Router> {
  const knex = await options.database.getClient();
  if (!options.database.migrations?.skip) {
    await applyDatabaseMigrations(knex);
  }
  await cacheSqliteStatements(knex);
  const baseUrl = await options.discovery.getExternalBaseUrl('auth');
  warnIfEveryProxyIsTrusted(options.rootConfig, options.logger);
  warnOfIgnoredConfig(options.rootConfig, options.logger);
  await scheduleCleanupTask({ scheduler: options.scheduler, knex, logger: options.logger, metrics: options.metrics });

  const identity = await createIdentity({ ...options, knex, baseUrl });
  // Written at sign-in, read at consent (issue 14).
  const signIns = DbUserSignInStore.create({ knex });
  const oidcProvider = await createOidcProvider({ ...options, knex, baseUrl, identity, signIns });
  const providers = await createProvidersRouter({ ...options, knex, baseUrl, identity, signIns });

  const router = Router();
  // First: a NUL byte in a path or query must not reach a route (issue 12 item 8).
  router.use(rejectForbiddenCharacters(options.logger, oidcProvider.answerBadUrlInHtml));
  router.use(onPaths(IDENTITY_PATHS, identity.router));
  router.use(oidcProvider.router);
  router.use(providers);
  router.use(databaseUnavailableHandler(options.logger));
  return router;
}
