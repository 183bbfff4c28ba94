import { createBackendModule } from '@backstage/backend-plugin-api';
import { authProvidersExtensionPoint } from '@backstage/plugin-auth-node';
import type { Request } from 'express';

function sessionOf(req: Request): Record<string, unknown> | undefined {
  return (req as unknown as { session?: Record<string, unknown> }).session;
}

/**
 * A minimal provider module (configure it under `auth.providers.probe`):
 * - `/start` keeps state in the express session, as passport-style providers
 *   do, and `/handler/frame` answers `{ probe }` read back from it;
 * - `/refresh` signs in `user:default/probe` with custom claims (`name`,
 *   `email`, `team`) through the resolver context and answers `{ token }`.
 */
export const probeProviderModule = createBackendModule({
  pluginId: 'auth',
  moduleId: 'probe-provider',
  register(reg) {
    reg.registerInit({
      deps: { providers: authProvidersExtensionPoint },
      async init({ providers }) {
        providers.registerProvider({
          providerId: 'probe',
          factory: ({ resolverContext }) => ({
            async start(req, res) {
              const session = sessionOf(req);
              if (!session) throw new Error('no session middleware');
              session.probe = 'stored-at-start';
              res.redirect('https://idp.example/authorize');
            },
            async frameHandler(req, res) {
              res.json({ probe: sessionOf(req)?.probe ?? null });
            },
            async refresh(_req, res) {
              const { token } = await resolverContext.issueToken({
                claims: {
                  sub: 'user:default/probe',
                  name: 'Pro Be',
                  email: 'probe@example.com',
                  team: 'blue',
                },
              });
              res.json({ token });
            },
          }),
        });
      },
    });
  },
});
