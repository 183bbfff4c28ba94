import type { AuthService, HttpAuthService } from '@backstage/backend-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type express from 'express';
import type { Knex } from 'knex';
import { DbAuthorizationCodeStore } from '../database/DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from '../database/DbAuthorizationSessionStore';
import { DbRefreshTokenStore } from '../database/DbRefreshTokenStore';
import type { Identity } from '../identity/createIdentity';
import type { OAuthContext } from '../oauth/context';
import { createConsentRouter } from '../oauth/endpoints/consent';
import type { DirectoryUser, UserDirectory } from '../oauth/stores';

/** The parts of the OAuth context that the authorization code flow adds. */
export type AuthorizationFlowContext = Pick<
  OAuthContext,
  'sessions' | 'codes' | 'refreshTokens' | 'signer' | 'users' | 'consentPageUrl'
>;

/**
 * Builds the stores and adapters of the authorization code flow, and the
 * consent API router (Backstage errors, so mount it beside — not inside —
 * the OAuth router).
 */
export function createAuthorizationFlow(options: {
  knex: Knex;
  identity: Identity;
  catalog: CatalogService;
  auth: AuthService;
  httpAuth: HttpAuthService;
  /** `app.baseUrl`, where the consent page lives. */
  appUrl: string;
}): {
  context: AuthorizationFlowContext;
  createConsentRouter(ctx: OAuthContext): express.Router;
} {
  const { knex, identity, auth, httpAuth, appUrl } = options;
  return {
    context: {
      sessions: DbAuthorizationSessionStore.create({ knex }),
      codes: DbAuthorizationCodeStore.create({ knex }),
      refreshTokens: DbRefreshTokenStore.create({ knex }),
      signer: identity,
      users: createCatalogUserDirectory(options.catalog, auth),
      // @backstage/plugin-auth's consent page (SPEC §1.8).
      consentPageUrl: sessionId => `${appUrl}/oauth2/authorize/${encodeURIComponent(sessionId)}`,
    },
    createConsentRouter: ctx =>
      createConsentRouter(ctx, async req => {
        const credentials = await httpAuth.credentials(req, { allow: ['user'] });
        return { userEntityRef: credentials.principal.userEntityRef };
      }),
  };
}

/** The catalog as a user directory, read with the plugin's own credentials. */
function createCatalogUserDirectory(catalog: CatalogService, auth: AuthService): UserDirectory {
  return {
    async findUser(userEntityRef: string): Promise<DirectoryUser | undefined> {
      if (!isUserEntityRef(userEntityRef)) return undefined;
      const entity = await catalog.getEntityByRef(userEntityRef, {
        credentials: await auth.getOwnServiceCredentials(),
      });
      if (!entity) return undefined;
      const profile = (entity.spec?.profile ?? {}) as Record<string, unknown>;
      const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
      return {
        displayName: text(profile.displayName),
        email: text(profile.email),
        picture: text(profile.picture),
      };
    },
  };
}

function isUserEntityRef(ref: string): boolean {
  try {
    return parseEntityRef(ref).kind.toLocaleLowerCase('en-US') === 'user';
  } catch {
    return false;
  }
}
