import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Knex } from 'knex';
import type { VerifiedJwt } from '../oauth/stores';
import type { SignInRecord } from '../oauth/authenticationContext';
import type express from 'express';
import type { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import type { AuthConfig } from '../config/readAuthConfig';
import type { IdentityConfig } from '../config/readIdentityConfig';
import { DbSigningKeyStore } from '../database/DbSigningKeyStore';
import { DbUserInfoStore } from '../database/DbUserInfoStore';
import { BackstageTokenIssuer, type UserTokenClaims } from './BackstageTokenIssuer';
import { createIdentityRouter } from './createIdentityRouter';
import { listPublishedKeys } from './listPublishedKeys';
import { MemoryKeyStore } from './MemoryKeyStore';
import { keepKeysAhead, RotatingSigningKeys } from './RotatingSigningKeys';
import type { SigningKeys } from './SigningKeys';
import { StaticSigningKeys } from './StaticSigningKeys';

export type { UserTokenClaims } from './BackstageTokenIssuer';

/**
 * The identity side of the plugin, built once at startup: signing keys, the
 * Backstage user token issuer, saved user info, and the JWKS/userinfo routes.
 * The OIDC provider and the sign-in providers use it; it uses neither.
 */
export interface Identity {
  /** Serves `/.well-known/jwks.json`. */
  router: express.Router;
  /**
   * Issues a Backstage user token (header typ `vnd.backstage.user`, `uip`, …)
   * and saves the claims as user_info, as every sign-in must (SPEC). Pass
   * `saveUserInfo: false` only when the claims were just read from user_info
   * (the OAuth grants), so re-saving them would write the same row again.
   */
  issueUserToken(params: {
    claims: UserTokenClaims;
    saveUserInfo?: boolean;
    /** The provider sign-in that issues the token, recorded with the saved claims (issue 14). */
    signIn?: SignInRecord;
    /** Claims for this token only, never saved as user info. */
    tokenClaims?: Record<string, unknown>;
    /** Signs under the OAuth-client key id, which marks the limited token rebuilt from this one too. */
    forOAuthClient?: boolean;
  }): Promise<{ token: string; expiresInSeconds: number }>;
  /**
   * Signs any other JWT (e.g. an OIDC ID token) with the current signing key;
   * `iat`/`exp`/`iss` are set here, `typ` goes into the protected header.
   */
  signJwt(
    payload: Record<string, unknown>,
    options: { typ: string; expiresInSeconds: number; alg?: string },
  ): Promise<string>;
  /** How long a user token lives; {@link Identity.signJwt} refuses longer lifetimes. */
  readonly tokenLifetimeSeconds: number;
  /** The JWS algorithm tokens are signed with (for discovery metadata). */
  readonly signingAlgorithm: string;
  /** The algorithms {@link Identity.signJwt} can sign with, the configured one first. */
  readonly jwtAlgorithms: string[];
  /** The claims saved for a user at their last sign-in. */
  getUserInfo(userEntityRef: string): Promise<{ claims: UserTokenClaims } | undefined>;
  /** Verifies a JWT this portal signed; undefined when it is not one or has expired. */
  verifyJwt(token: string): Promise<VerifiedJwt | undefined>;
}

/** What {@link createIdentity} takes from the plugin's wiring (service/createRouter.ts). */
export interface IdentityOptions {
  config: Pick<AuthConfig, 'identity'>;
  logger: LoggerService;
  lifecycle: LifecycleService;
  knex: Knex;
  /** The plugin's external base URL: the `iss` of every token. */
  baseUrl: string;
}

/**
 * Builds the identity side from `config.identity`: the key store it names, the
 * token issuer, the user info store and the JWKS/userinfo routes. A signing
 * key is created (or loaded) before this returns, so the JWKS is never empty.
 */
export async function createIdentity(options: IdentityOptions): Promise<Identity> {
  const { config, knex, baseUrl, logger } = options;
  const { keys, byAlgorithm } = await createSigningKeys(config.identity, knex, logger);
  const stopKeepingAhead = keepKeysAhead([keys, ...byAlgorithm.values()]);
  options.lifecycle.addShutdownHook(stopKeepingAhead);
  // Every algorithm's first key is published before this instance serves a
  // request, so no verifier meets a key before it can be listed (issue 26).
  await Promise.all([keys, ...byAlgorithm.values()].map(k => k.currentKey()));

  const issuer = BackstageTokenIssuer.create({
    keys,
    otherKeys: byAlgorithm,
    issuer: baseUrl,
    lifetimeSeconds: config.identity.tokenLifetimeSeconds,
    omitOwnershipClaim: config.identity.omitOwnershipClaim,
  });
  const userInfo = DbUserInfoStore.create({ knex });
  const getUserInfo = (userEntityRef: string) => userInfo.getUserInfo(userEntityRef);

  return {
    router: createIdentityRouter({ keys }),
    async issueUserToken({ claims, saveUserInfo = true, signIn, tokenClaims, forOAuthClient }) {
      // Upstream's default: a user owns at least their own entity.
      const { sub, ent = [sub], ...custom } = claims;
      const saved: UserTokenClaims = { sub, ent, ...custom };
      const issued = await issuer.issueUserToken(tokenClaims ? { ...saved, ...tokenClaims } : saved, {
        forOAuthClient,
      });
      if (saveUserInfo) await userInfo.saveUserInfo(saved, signIn);
      return issued;
    },
    signJwt: (payload, signOptions) => issuer.signJwt(payload, signOptions),
    async verifyJwt(token) {
      try {
        const jwks = createLocalJWKSet({ keys: await listPublishedKeys(keys) });
        const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: baseUrl });
        return { typ: protectedHeader.typ, payload };
      } catch {
        return undefined;
      }
    },
    tokenLifetimeSeconds: config.identity.tokenLifetimeSeconds,
    signingAlgorithm: keys.algorithm,
    jwtAlgorithms: [keys.algorithm, ...byAlgorithm.keys()],
    getUserInfo,
  };
}

/**
 * OIDC Registration §2: RS256 is the algorithm every relying party can
 * verify, so clients that ask for it (`id_token_signed_response_alg`) get ID
 * tokens signed with it even where the configured algorithm is another.
 */
const ID_TOKEN_FALLBACK_ALGORITHM = 'RS256';

/**
 * The signing keys of the configured algorithm, and rotating keys of RS256
 * beside them (published to the same store, so one JWKS lists both). Static keys sign with what is configured only.
 */
async function createSigningKeys(
  identity: IdentityConfig,
  knex: Knex,
  logger: LoggerService,
): Promise<{ keys: SigningKeys; byAlgorithm: Map<string, SigningKeys> }> {
  const byAlgorithm = new Map<string, SigningKeys>();
  const store = identity.keyStore;
  if (store.provider === 'static') {
    return { keys: await StaticSigningKeys.create({ keys: store.keys }), byAlgorithm };
  }
  const keyStore = store.provider === 'database' ? DbSigningKeyStore.create({ knex }) : MemoryKeyStore.create();
  const rotating = (algorithm: string) =>
    RotatingSigningKeys.create({
      store: keyStore,
      algorithm,
      // Upstream rotates as often as a token lives; keys stay listed until the
      // longest-lived token they could have signed has expired. signJwt refuses
      // lifetimes beyond the user token's, so that bound covers ID tokens too.
      rotationSeconds: identity.tokenLifetimeSeconds,
      maxTokenLifetimeSeconds: identity.tokenLifetimeSeconds,
      logger: logger.child({ component: 'signing-keys' }),
    });
  if (identity.algorithm !== ID_TOKEN_FALLBACK_ALGORITHM) {
    byAlgorithm.set(ID_TOKEN_FALLBACK_ALGORITHM, rotating(ID_TOKEN_FALLBACK_ALGORITHM));
  }
  return { keys: rotating(identity.algorithm), byAlgorithm };
}
