import { createBackendModule } from '@backstage/backend-plugin-api';
import {
  authOwnershipResolutionExtensionPoint,
  authProvidersExtensionPoint,
} from '@backstage/plugin-auth-node';

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

/** Module `moduleId` sets an ownership resolver; two of them must stop startup. */
export function ownershipResolverModule(moduleId: string, ownershipEntityRefs: string[]) {
  return createBackendModule({
    pluginId: 'auth',
    moduleId,
    register(reg) {
      reg.registerInit({
        deps: { ownership: authOwnershipResolutionExtensionPoint },
        async init({ ownership }) {
          ownership.setAuthOwnershipResolver({
            resolveOwnershipEntityRefs: async () => ({ ownershipEntityRefs }),
          });
        },
      });
    },
  });
}
