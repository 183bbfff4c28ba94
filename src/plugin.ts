import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import {
  authOwnershipResolutionExtensionPoint,
  authProvidersExtensionPoint,
  type AuthOwnershipResolver,
  type AuthProviderFactory,
} from '@backstage/plugin-auth-node';
import { actionsRegistryServiceRef, metricsServiceRef } from '@backstage/backend-plugin-api/alpha';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { readAuthConfig } from './config/readAuthConfig';
import { createRouter } from './service/createRouter';
import { registerWhoAmIAction } from './service/registerWhoAmIAction';

/**
 * The auth backend plugin: Backstage sign-in plus an OpenID Connect provider.
 *
 * @public
 */
export const authPlugin = createBackendPlugin({
  pluginId: 'auth',
  register(reg) {
    const providerFactories = new Map<string, AuthProviderFactory>();
    let ownershipResolver: AuthOwnershipResolver | undefined;

    reg.registerExtensionPoint(authProvidersExtensionPoint, {
      registerProvider({ providerId, factory }) {
        if (providerFactories.has(providerId)) {
          throw new Error(`The auth provider '${providerId}' is already registered`);
        }
        providerFactories.set(providerId, factory);
      },
    });
    reg.registerExtensionPoint(authOwnershipResolutionExtensionPoint, {
      setAuthOwnershipResolver(resolver) {
        if (ownershipResolver) {
          throw new Error('An auth ownership resolver is already set');
        }
        ownershipResolver = resolver;
      },
    });

    reg.registerInit({
      deps: {
        httpRouter: coreServices.httpRouter,
        rootHttpRouter: coreServices.rootHttpRouter,
        logger: coreServices.logger,
        rootConfig: coreServices.rootConfig,
        database: coreServices.database,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        httpAuth: coreServices.httpAuth,
        scheduler: coreServices.scheduler,
        lifecycle: coreServices.lifecycle,
        auditor: coreServices.auditor,
        userInfo: coreServices.userInfo,
        catalog: catalogServiceRef,
        actionsRegistry: actionsRegistryServiceRef,
        metrics: metricsServiceRef,
      },
      async init({ actionsRegistry, userInfo, ...deps }) {
        const config = readAuthConfig(deps.rootConfig);
        const router = await createRouter({
          ...deps,
          config,
          providerFactories,
          ownershipResolver,
        });
        deps.httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        deps.httpRouter.use(router);
        registerWhoAmIAction({ actionsRegistry, auth: deps.auth, catalog: deps.catalog, userInfo });
      },
    });
  },
});
