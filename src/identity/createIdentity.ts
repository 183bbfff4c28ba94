import type { Knex } from 'knex';
import type express from 'express';
import Router from 'express-promise-router';
import type { RouterOptions } from '../service/createRouter';

/** Claims of a Backstage user token (SPEC §1.4), plus resolver custom claims. */
export interface UserTokenClaims {
  sub: string;
  ent?: string[];
  [claim: string]: unknown;
}

/**
 * The identity side of the plugin, built once at startup: signing keys, the
 * Backstage user token issuer, saved user info, and the JWKS/userinfo routes.
 * The OIDC provider and the sign-in providers use it; it uses neither.
 */
export interface Identity {
  /** Serves `/.well-known/jwks.json` and `/v1/userinfo`. */
  router: express.Router;
  /** Issues a Backstage user token (header typ `vnd.backstage.user`, `uip`, …) and saves user_info. */
  issueUserToken(params: { claims: UserTokenClaims }): Promise<{ token: string; expiresInSeconds: number }>;
  /**
   * Signs any other JWT (e.g. an OIDC ID token) with the current signing key;
   * `iat`/`exp`/`iss` are set here, `typ` goes into the protected header.
   */
  signJwt(
    payload: Record<string, unknown>,
    options: { typ: string; expiresInSeconds: number },
  ): Promise<string>;
  /** The JWS algorithm tokens are signed with (for discovery metadata). */
  readonly signingAlgorithm: string;
  /** The claims saved for a user at their last sign-in. */
  getUserInfo(userEntityRef: string): Promise<{ claims: UserTokenClaims } | undefined>;
}

export async function createIdentity(
  _options: RouterOptions & { knex: Knex; baseUrl: string },
): Promise<Identity> {
  const notYet = async (): Promise<never> => {
    throw new Error('identity is not built yet');
  };
  return {
    router: Router(),
    issueUserToken: notYet,
    signJwt: notYet,
    signingAlgorithm: 'ES256',
    getUserInfo: notYet,
  };
}
