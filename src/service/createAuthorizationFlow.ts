import type { AuthService, HttpAuthService } from '@backstage/backend-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import { NotAllowedError } from '@backstage/errors';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type express from 'express';
import type { Knex } from 'knex';
import { DbAuthorizationCodeStore } from '../database/DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from '../database/DbAuthorizationSessionStore';
import { DbRefreshTokenStore } from '../database/DbRefreshTokenStore';
import { DbSecretKeyRing } from '../database/DbSecretKeyRing';
import type { Identity } from '../identity/createIdentity';
import type { UserSignInStore } from '../oauth/authenticationContext';
import { createAuthorizationRequestHandles } from '../oauth/authorizationRequests';
import type { OAuthContext } from '../oauth/context';
import { createConsentRouter } from '../oauth/endpoints/consent';
import { InvalidClient, InvalidToken } from '../oauth/errors';
import { isPluginActingForUser, oauthClientOfToken, oauthGrantBehindToken } from '../oauth/oauthClientTokens';
import type { DirectoryUser, UserDirectory } from '../oauth/stores';
import { createVerifiedTokenCache } from './createVerifiedTokenCache';

/** The parts of the OAuth context that the authorization code flow adds. */
export type AuthorizationFlowContext = Pick<
  OAuthContext,
  | 'authorizationRequests'
  | 'sessions'
  | 'codes'
  | 'refreshTokens'
  | 'signer'
  | 'users'
  | 'signIns'
  | 'consentPageUrl'
  | 'verifyUserToken'
  | 'verifyServiceCaller'
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
  /** Written by the sign-in providers, read at consent (issue 14). */
  signIns: UserSignInStore;
  /** The deployment's shared secret keys, which seal authorization requests. */
  secretKeys: DbSecretKeyRing;
}): {
  context: AuthorizationFlowContext;
  createConsentRouter(ctx: OAuthContext): express.Router;
} {
  const { knex, identity, auth, httpAuth, appUrl } = options;
  // One per way of asking: a limited token passes the first, never the second.
  const verifiedUserTokens = createVerifiedTokenCache();
  const verifiedFullUserTokens = createVerifiedTokenCache();
  return {
    context: {
      authorizationRequests: createAuthorizationRequestHandles(options.secretKeys),
      sessions: DbAuthorizationSessionStore.create({ knex }),
      codes: DbAuthorizationCodeStore.create({ knex }),
      refreshTokens: DbRefreshTokenStore.create({ knex }),
      signer: identity,
      users: createCatalogUserDirectory(options.catalog, auth),
      signIns: options.signIns,
      // @backstage/plugin-auth's consent page (SPEC §1.8).
      consentPageUrl: handle => `${appUrl}/oauth2/authorize/${encodeURIComponent(handle)}`,
      async verifyUserToken(req) {
        let userEntityRef: string;
        try {
          userEntityRef = await verifiedUserTokens(bearerToken(req), async () => {
            const { principal, expiresAt } = await httpAuth.credentials(req, {
              allow: ['user'],
              allowLimitedAccess: true,
            });
            return { userEntityRef: principal.userEntityRef, expiresAt };
          });
        } catch (error) {
          if (!isAuthError(error)) throw error;
          // RFC 6750 §3.1: a missing, expired or malformed token, or one of a service.
          throw new InvalidToken(
            bearerToken(req) ? 'the access token is invalid or expired' : 'an access token is required',
          );
        }
        const oauthClient = oauthGrantBehindToken(bearerToken(req));
        return { userEntityRef, ...(oauthClient ? { oauthClient } : {}) };
      },
      async verifyServiceCaller(req) {
        if (!bearerToken(req)) return undefined;
        try {
          const credentials = await httpAuth.credentials(req, { allow: ['service'] });
          return credentials.principal.subject;
        } catch (error) {
          if (!isAuthError(error)) throw error;
          throw new InvalidClient('the Bearer token is not valid Backstage service credentials');
        }
      },
    },
    createConsentRouter: ctx =>
      createConsentRouter(ctx, async req => {
        const userEntityRef = await verifiedFullUserTokens(bearerToken(req), async () => {
          const { principal, expiresAt } = await httpAuth.credentials(req, { allow: ['user'] });
          return { userEntityRef: principal.userEntityRef, expiresAt };
        });
        // Only the user, signed in to the portal, grants access: not a
        // backend plugin acting for the user (whatever token it acts on),
        // and not a token an OAuth client obtained (its own wider scopes,
        // or other clients).
        if (isPluginActingForUser(bearerToken(req))) {
          throw new NotAllowedError(
            "Only the user's own token from a portal sign-in can approve or reject sign-in requests, not a service acting for the user",
          );
        }
        const client = oauthClientOfToken(bearerToken(req));
        if (client !== undefined) {
          throw new NotAllowedError(
            `A token issued to the OAuth client '${client}' cannot approve or reject sign-in requests; use a portal sign-in`,
          );
        }
        return { userEntityRef };
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

/** The bearer token of a request (RFC 6750 §2.1), or '' when there is none. */
function bearerToken(req: express.Request): string {
  return /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

/** The framework's verdicts on a credential: not signed in, or not a user. */
function isAuthError(error: unknown): boolean {
  const name = (error as { name?: unknown })?.name;
  return name === 'AuthenticationError' || name === 'NotAllowedError';
}
