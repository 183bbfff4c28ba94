import type {
  AuthService,
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import { NotFoundError } from '@backstage/errors';
import type {
  AuthOwnershipResolver,
  AuthProviderFactory,
  AuthProviderRouteHandlers,
} from '@backstage/plugin-auth-node';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import cookieParser from 'cookie-parser';
import express from 'express';
import Router from 'express-promise-router';
import type { Knex } from 'knex';
import type { AuthConfig } from '../config/readAuthConfig';
import type { Identity } from '../identity/createIdentity';
import type { UserSignInStore } from '../oauth/authenticationContext';
import { CatalogResolverContext } from './CatalogResolverContext';
import { createSessionMiddleware } from './createSessionMiddleware';
import { ProviderSignIns } from './ProviderSignIns';

/** What {@link createProvidersRouter} takes from the plugin's wiring (service/createRouter.ts). */
export interface ProvidersRouterOptions {
  config: Pick<AuthConfig, 'appUrl' | 'isOriginAllowed' | 'sessionSecret'>;
  rootConfig: RootConfigService;
  logger: LoggerService;
  lifecycle: LifecycleService;
  auth: AuthService;
  catalog: CatalogService;
  providerFactories: ReadonlyMap<string, AuthProviderFactory>;
  ownershipResolver?: AuthOwnershipResolver;
  knex: Knex;
  /** The plugin's external base URL. */
  baseUrl: string;
  identity: Identity;
  /** Where each user's last sign-in is recorded (issue 14). */
  signIns: UserSignInStore;
}

/**
 * The sign-in routes of every registered provider module (SPEC §1.3):
 * `GET /:provider/start`, `GET|POST /:provider/handler/frame`,
 * `GET|POST /:provider/refresh`, `POST /:provider/logout`. A provider is live
 * only when `auth.providers.<id>` is configured; any other first path segment
 * is a Backstage 404. Mounted last, so it answers whatever the identity and
 * OIDC routers did not.
 */
export async function createProvidersRouter(options: ProvidersRouterOptions): Promise<express.Router> {
  const { rootConfig, config, logger } = options;
  const providersConfig = rootConfig.getOptionalConfig('auth.providers');
  const signIns = ProviderSignIns.create({
    store: options.signIns,
    logger: logger.child({ component: 'sign-in' }),
  });
  const resolverContext = CatalogResolverContext.create({
    signIns,
    identity: options.identity,
    catalog: options.catalog,
    auth: options.auth,
    logger: logger.child({ component: 'sign-in' }),
    ownershipResolver: options.ownershipResolver,
  });

  const secret = config.sessionSecret;
  const middleware: express.RequestHandler[] = [
    cookieParser(secret),
    express.urlencoded({ extended: false }),
    express.json(),
  ];
  if (secret) {
    middleware.push(createSessionMiddleware({ ...options, secret }));
  }

  const router = Router();
  for (const [providerId, factory] of options.providerFactories) {
    if (!providersConfig?.has(providerId)) {
      router.use(`/${providerId}`, () => {
        throw new NotFoundError(
          `Auth provider '${providerId}' is installed but not configured under auth.providers.${providerId}`,
        );
      });
      continue;
    }
    logger.info(`Configuring auth provider: ${providerId}`);
    const handlers = createProvider(providerId, factory, {
      ...options,
      providerConfig: providersConfig.getConfig(providerId),
      resolverContext,
    });
    router.use(`/${providerId}`, ...middleware, bindHandlers(providerId, handlers, signIns));
  }
  router.use('/:provider', req => {
    throw new NotFoundError(`Unknown auth provider '${req.params.provider}'`);
  });
  return router;
}

function createProvider(
  providerId: string,
  factory: AuthProviderFactory,
  options: Pick<ProvidersRouterOptions, 'config' | 'logger' | 'baseUrl'> & {
    providerConfig: Config;
    resolverContext: CatalogResolverContext;
  },
): AuthProviderRouteHandlers {
  const { baseUrl, config } = options;
  const appUrl = config.appUrl;
  const isOriginAllowed = config.isOriginAllowed;
  try {
    return factory({
      providerId,
      baseUrl,
      appUrl,
      isOriginAllowed,
      globalConfig: { baseUrl, appUrl, isOriginAllowed },
      config: options.providerConfig,
      logger: options.logger.child({ provider: providerId }),
      resolverContext: options.resolverContext,
    });
  } catch (error) {
    // A misconfigured provider must stop startup rather than vanish silently.
    throw new Error(`Failed to initialize auth provider '${providerId}': ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function bindHandlers(
  providerId: string,
  provider: AuthProviderRouteHandlers,
  signIns: ProviderSignIns,
): express.Router {
  const r = Router();
  r.get('/start', (req, res) => provider.start(req, res));
  // Tokens these issue are sign-ins or session refreshes (issue 14).
  const frame: express.RequestHandler = (req, res) =>
    signIns.run(providerId, 'frame', req, res, () => provider.frameHandler(req, res));
  r.get('/handler/frame', frame);
  r.post('/handler/frame', frame);
  if (provider.refresh) {
    const handler = provider.refresh.bind(provider);
    const refresh: express.RequestHandler = (req, res) =>
      signIns.run(providerId, 'refresh', req, res, () => handler(req, res));
    r.get('/refresh', refresh);
    r.post('/refresh', refresh);
  }
  if (provider.logout) {
    const logout = provider.logout.bind(provider);
    r.post('/logout', (req, res) => logout(req, res));
  }
  const noRoute = (req: express.Request) =>
    new NotFoundError(`Auth provider '${providerId}' has no route ${req.method} ${req.path}`);
  r.use(req => {
    throw noRoute(req);
  });
  // Proxy providers (guest, oauth2-proxy, …) throw NotImplementedError from
  // start and the frame handler: a route this provider lacks is a 404, not a 501.
  r.use((err: unknown, req: express.Request, _res: express.Response, next: express.NextFunction) => {
    const lacksRoute = (err as Error | undefined)?.name === 'NotImplementedError';
    next(lacksRoute ? noRoute(req) : err);
  });
  return r;
}
