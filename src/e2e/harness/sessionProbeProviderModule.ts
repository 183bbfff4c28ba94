import { createBackendModule } from '@backstage/backend-plugin-api';
import { authProvidersExtensionPoint } from '@backstage/plugin-auth-node';

/**
 * A minimal provider module that keeps its state in the express session, as
 * passport-style providers do: `/start` stores a value, `/handler/frame`
 * reads it back. Configure it under `auth.providers.session-probe`.
 */
export const sessionProbeProviderModule = createBackendModule({
  pluginId: 'auth',
  moduleId: 'session-probe-provider',
  register(reg) {
    reg.registerInit({
      deps: { providers: authProvidersExtensionPoint },
      async init({ providers }) {
        providers.registerProvider({
          providerId: 'session-probe',
          factory: () => ({
            async start(req, res) {
              const session = (req as unknown as { session?: Record<string, unknown> }).session;
              if (!session) throw new Error('no session middleware');
              session.probe = 'stored-at-start';
              res.redirect('https://idp.example/authorize');
            },
            async frameHandler(req, res) {
              const session = (req as unknown as { session?: Record<string, unknown> }).session;
              res.json({ probe: session?.probe ?? null });
            },
          }),
        });
      },
    });
  },
});
