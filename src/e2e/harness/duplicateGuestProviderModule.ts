import { createBackendModule } from '@backstage/backend-plugin-api';
import { authProvidersExtensionPoint } from '@backstage/plugin-auth-node';

/** Registers the provider id `guest` a second time, which must stop startup. */
export const duplicateGuestProviderModule = createBackendModule({
  pluginId: 'auth',
  moduleId: 'duplicate-guest-provider',
  register(reg) {
    reg.registerInit({
      deps: { providers: authProvidersExtensionPoint },
      async init({ providers }) {
        providers.registerProvider({
          providerId: 'guest',
          factory: () => {
            throw new Error('never built');
          },
        });
      },
    });
  },
});
