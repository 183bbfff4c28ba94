/*
 * A real Backstage backend for local development: this plugin from source,
 * the guest sign-in provider from npm and SQLite in memory. Run `npm start`.
 */
import { createBackend } from '@backstage/backend-defaults';
import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';

/** Logs where the plugin is reachable once the whole backend is up. */
const announceBaseUrl = createBackendModule({
  pluginId: 'auth',
  moduleId: 'dev-announce-base-url',
  register(reg) {
    reg.registerInit({
      deps: {
        discovery: coreServices.discovery,
        logger: coreServices.logger,
        rootLifecycle: coreServices.rootLifecycle,
      },
      async init({ discovery, logger, rootLifecycle }) {
        rootLifecycle.addStartupHook(async () => {
          const baseUrl = await discovery.getExternalBaseUrl('auth');
          logger.info(`Auth plugin is serving at ${baseUrl}`);
        });
      },
    });
  },
});

const backend = createBackend();
backend.add(import('../src'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(announceBaseUrl);
backend.start();
