import {
  type BackendFeature,
  coreServices,
  createServiceFactory,
  type RootLoggerService,
} from '@backstage/backend-plugin-api';
import { authServiceFactory } from '@backstage/backend-defaults/auth';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { userInfoServiceFactory } from '@backstage/backend-defaults/userInfo';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import type { JsonObject } from '@backstage/types';
import guestProviderModule from '@backstage/plugin-auth-backend-module-guest-provider';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import knexFactory, { type Knex } from 'knex';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import authPlugin from '../..';
import { startProductionBackend } from './startProductionBackend';
import { whoamiPlugin } from './whoamiPlugin';

type BackendFeatures = Array<BackendFeature | Promise<{ default: BackendFeature }>>;

/** What {@link startAuthBackend} returns. */
export interface AuthBackend {
  /** The running HTTP server; pass it to supertest. */
  server: Parameters<typeof request>[0];
  /** e.g. `http://localhost:43210` (no trailing slash). */
  baseUrl: string;
  /** The auth plugin's external base URL and token issuer, `${baseUrl}/api/auth`. */
  issuer: string;
  /** Signs in through the real guest provider (`POST /api/auth/guest/refresh`). */
  signInAsGuest(): Promise<{ token: string; body: GuestSignInBody }>;
  /** Stops the backend; the knex stays open (it belongs to the caller). */
  stop(): Promise<void>;
}

/** The refresh response of a proxy provider such as guest. */
export interface GuestSignInBody {
  profile: unknown;
  providerInfo: unknown;
  backstageIdentity: {
    token: string;
    expiresInSeconds?: number;
    identity: { type: 'user'; userEntityRef: string; ownershipEntityRefs: string[] };
  };
}

/**
 * Starts a real Backstage backend (`startTestBackend`) with this plugin, the
 * REAL guest provider module from npm, the framework's real auth, httpAuth and
 * userInfo services (so user tokens are verified through our JWKS), an
 * in-memory catalog, and a small `whoami` plugin whose
 * `GET /api/whoami/me` requires a user token and answers
 * `{ userEntityRef, ownershipEntityRefs }` (ownership via the framework's UserInfoService).
 *
 * - `knex`: the database the plugin uses (e.g. from `createTestDatabases().init(id)`);
 *   several backends may share one to act as instances of one deployment.
 * - `config`: merged over the defaults (`app.baseUrl: http://localhost:3000`,
 *   `auth.providers.guest: { dangerouslyAllowOutsideDevelopment: true }`,
 *   `auth.keyStore.provider: database`); a top-level key replaces the default one
 *   only within `auth`/`app` as a shallow merge of their children.
 * - `features`: more modules or plugins, e.g. another provider module.
 * - `entities`: catalog entities for sign-in resolvers to find.
 * - `productionHttpRouter`: build the backend with `createBackend()` and serve it
 *   through backend-defaults' root HTTP router, which applies `backend.*`
 *   settings such as `backend.trustProxy` (see startProductionBackend.ts);
 *   startTestBackend's root router ignores them. With it, `externalBaseUrl`
 *   and `rootLogger` are passed on to startProductionBackend.
 *
 * @example
 * const backend = await startAuthBackend({ knex });
 * const { token } = await backend.signInAsGuest();
 * await request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
 */
export async function startAuthBackend(options: {
  knex: Knex;
  config?: JsonObject;
  features?: BackendFeatures;
  /** Add `features` before this plugin instead of after it. */
  featuresFirst?: boolean;
  /** Another auth plugin in place of this one (e.g. upstream's, to build a database it used). */
  plugin?: BackendFeature;
  entities?: Entity[];
  productionHttpRouter?: boolean;
  externalBaseUrl?: string;
  rootLogger?: RootLoggerService;
}): Promise<AuthBackend> {
  const extra = options.config ?? {};
  const backendConfig = (extra.backend as JsonObject | undefined) ?? {};
  if ((options.externalBaseUrl || options.rootLogger) && !options.productionHttpRouter) {
    throw new Error('externalBaseUrl and rootLogger need productionHttpRouter: true');
  }
  if (backendConfig.trustProxy !== undefined && !options.productionHttpRouter) {
    // A test of proxy handling must not pass because the setting was never applied.
    throw new Error("startTestBackend's root HTTP router ignores backend.trustProxy; pass productionHttpRouter: true");
  }
  const data: JsonObject = {
    ...extra,
    // Any free port: backend-defaults' router listens where backend.listen says (7007 by default).
    ...(options.productionHttpRouter ? { backend: { ...backendConfig, listen: { port: 0 } } } : {}),
    app: { baseUrl: 'http://localhost:3000', ...((extra.app as JsonObject) ?? {}) },
    auth: {
      keyStore: { provider: 'database' },
      ...((extra.auth as JsonObject) ?? {}),
      providers: {
        guest: { dangerouslyAllowOutsideDevelopment: true },
        ...(((extra.auth as JsonObject)?.providers as JsonObject) ?? {}),
      },
    },
  };
  const { externalBaseUrl, rootLogger } = options;
  const start = options.productionHttpRouter
    ? (o: { features: BackendFeatures }) => startProductionBackend({ ...o, externalBaseUrl, rootLogger })
    : startTestBackend;
  const backend = await start({
    features: [
      ...(options.featuresFirst ? options.features ?? [] : []),
      options.plugin ?? authPlugin,
      guestProviderModule,
      whoamiPlugin,
      mockServices.rootConfig.factory({ data }),
      databaseFactory(options.knex),
      catalogServiceMock.factory({ entities: options.entities ?? [] }),
      authServiceFactory,
      httpAuthServiceFactory,
      userInfoServiceFactory,
      ...(options.featuresFirst ? [] : options.features ?? []),
    ],
  });
  const server = backend.server;
  const baseUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  return {
    server,
    baseUrl,
    issuer: `${baseUrl}/api/auth`,
    signInAsGuest: () => signInAsGuestAt(server),
    stop: () => backend.stop(),
  };
}

/** Signs in through the real guest provider of the backend at `server` (`POST /api/auth/guest/refresh`). */
export async function signInAsGuestAt(
  server: AuthBackend['server'],
): Promise<{ token: string; body: GuestSignInBody }> {
  const res = await request(server).post('/api/auth/guest/refresh').set('X-Requested-With', 'XMLHttpRequest');
  if (res.status !== 200) {
    throw new Error(`Guest sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const body = res.body as GuestSignInBody;
  return { token: body.backstageIdentity.token, body };
}

/**
 * The auth plugin gets the caller's database; every other plugin gets its own
 * in-memory SQLite, so their framework tables (plugin keys) never race ours.
 */
function databaseFactory(knex: Knex) {
  return createServiceFactory({
    service: coreServices.database,
    deps: { plugin: coreServices.pluginMetadata, lifecycle: coreServices.lifecycle },
    factory({ plugin, lifecycle }) {
      if (plugin.getId() === 'auth') {
        return { getClient: async () => knex };
      }
      const own = knexFactory({
        client: 'better-sqlite3',
        connection: ':memory:',
        useNullAsDefault: true,
      });
      lifecycle.addShutdownHook(() => own.destroy());
      return { getClient: async () => own };
    },
  });
}
