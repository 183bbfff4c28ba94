import { createBackendModule } from '@backstage/backend-plugin-api';
import { AuthenticationError } from '@backstage/errors';
import {
  authProvidersExtensionPoint,
  createProxyAuthenticator,
  createProxyAuthProviderFactory,
} from '@backstage/plugin-auth-node';
import request from 'supertest';
import type { AuthBackend, GuestSignInBody } from './startAuthBackend';

/**
 * A proxy provider module with a custom sign-in resolver, written the way
 * adopters write theirs (configure it under `auth.providers.header: {}`):
 * `POST /api/auth/header/refresh` signs in whoever the `x-test-user` header
 * names, with the comma-separated `x-test-ent` header as ownership refs and
 * the JSON object in `x-test-claims` as custom claims, passed to
 * `ctx.issueToken` exactly as given — no catalog lookup.
 */
interface SignedInResult {
  sub: string;
  ent?: string[];
  custom?: Record<string, unknown>;
}

export const headerUserProviderModule = createBackendModule({
  pluginId: 'auth',
  moduleId: 'header-user-provider',
  register(reg) {
    reg.registerInit({
      deps: { providers: authProvidersExtensionPoint },
      async init({ providers }) {
        providers.registerProvider({
          providerId: 'header',
          factory: createProxyAuthProviderFactory<SignedInResult>({
            authenticator: createProxyAuthenticator({
              defaultProfileTransform: async () => ({ profile: {} }),
              initialize: () => undefined,
              async authenticate({ req }) {
                const sub = req.header('x-test-user');
                if (!sub) throw new AuthenticationError('no x-test-user header');
                const ent = req.header('x-test-ent')?.split(',');
                const custom = req.header('x-test-claims');
                return { result: { sub, ...(ent ? { ent } : {}), ...(custom ? { custom: JSON.parse(custom) } : {}) } };
              },
            }),
            signInResolver: async ({ result }, ctx) =>
              ctx.issueToken({
                claims: { ...result.custom, sub: result.sub, ...(result.ent ? { ent: result.ent } : {}) },
              }),
          }),
        });
      },
    });
  },
});

/** Signs in through {@link headerUserProviderModule} as `sub`, owning `ent`, with `custom` claims. */
export async function signInWithHeader(
  backend: AuthBackend,
  sub: string,
  ent?: string[],
  custom?: Record<string, unknown>,
): Promise<{ token: string; body: GuestSignInBody }> {
  let req = request(backend.server)
    .post('/api/auth/header/refresh')
    .set('X-Requested-With', 'XMLHttpRequest')
    .set('x-test-user', sub);
  if (ent) req = req.set('x-test-ent', ent.join(','));
  if (custom) req = req.set('x-test-claims', JSON.stringify(custom));
  const res = await req;
  if (res.status !== 200) {
    throw new Error(`sign-in as ${sub} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const body = res.body as GuestSignInBody;
  return { token: body.backstageIdentity.token, body };
}
