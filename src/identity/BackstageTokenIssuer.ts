import { parseEntityRef } from '@backstage/catalog-model';
import { tokenTypes } from '@backstage/plugin-auth-node';
import type { SigningKeys } from './SigningKeys';
import { detachedJwsSignature, signCompactJws } from './signJws';
import { oauthClientKeyId } from '../oauth/oauthClientTokens';

/** Claims of a Backstage user token (SPEC §1.4), plus resolver custom claims. */
export interface UserTokenClaims {
  sub: string;
  ent?: string[];
  [claim: string]: unknown;
}

/** Upstream's limit; larger tokens break headers and cookies downstream. */
export const MAX_USER_TOKEN_LENGTH = 32768;

/** Options of {@link BackstageTokenIssuer.create}. */
export interface BackstageTokenIssuerOptions {
  keys: SigningKeys;
  /** Keys of other algorithms that {@link BackstageTokenIssuer.signJwt} may be asked for. */
  otherKeys?: ReadonlyMap<string, SigningKeys>;
  /** The plugin's external base URL. */
  issuer: string;
  lifetimeSeconds: number;
  omitOwnershipClaim: boolean;
  now?: () => number;
}

/**
 * Signs Backstage user tokens (SPEC §1.4) and other JWTs with the current
 * signing key. The user token's `uip` claim is the signature of a limited
 * user token, so the framework can rebuild that token from the full one.
 */
export class BackstageTokenIssuer {
  readonly #keys: SigningKeys;
  readonly #otherKeys: ReadonlyMap<string, SigningKeys>;
  readonly #issuer: string;
  readonly #lifetimeSeconds: number;
  readonly #omitOwnershipClaim: boolean;
  readonly #now: () => number;

  static create(options: BackstageTokenIssuerOptions): BackstageTokenIssuer {
    return new BackstageTokenIssuer(options);
  }

  private constructor(options: BackstageTokenIssuerOptions) {
    this.#keys = options.keys;
    this.#otherKeys = options.otherKeys ?? new Map();
    this.#issuer = options.issuer;
    this.#lifetimeSeconds = options.lifetimeSeconds;
    this.#omitOwnershipClaim = options.omitOwnershipClaim;
    this.#now = options.now ?? Date.now;
  }

  /**
   * `forOAuthClient` signs under the key's OAuth-client key id, so that the
   * limited token rebuilt from this one still shows whose it is (issue 25
   * item 8).
   */
  async issueUserToken(
    claims: UserTokenClaims,
    options: { forOAuthClient?: boolean } = {},
  ): Promise<{ token: string; expiresInSeconds: number }> {
    const { sub, ent, ...customClaims } = claims;
    try {
      parseEntityRef(sub);
    } catch {
      throw new Error(`The sign-in resolver returned a 'sub' that is not an entity ref: '${sub}'`);
    }
    const key = await this.#keys.currentKey();
    const kid = options.forOAuthClient ? oauthClientKeyId(key.kid) : key.kid;
    const iat = Math.floor(this.#now() / 1000);
    const exp = iat + this.#lifetimeSeconds;

    // The limited token's header and payload must serialize exactly as the
    // framework rebuilds them: {"typ","alg","kid"} and {"sub","iat","exp"}.
    const uip = await detachedJwsSignature(
      { typ: tokenTypes.limitedUser.typParam, alg: key.alg, kid },
      { sub, iat, exp },
      key.privateKey,
    );

    const payload: Record<string, unknown> = {
      ...customClaims,
      iss: this.#issuer,
      sub,
      ...(this.#omitOwnershipClaim ? {} : { ent }),
      aud: tokenTypes.user.audClaim,
      iat,
      exp,
      uip,
    };
    const token = await signCompactJws(
      { typ: tokenTypes.user.typParam, alg: key.alg, kid },
      payload,
      key.privateKey,
    );
    if (token.length > MAX_USER_TOKEN_LENGTH) {
      throw new Error(
        `Refusing to issue a user token of ${token.length} characters for '${sub}' ` +
          `(limit ${MAX_USER_TOKEN_LENGTH}); the sign-in resolver returned too many ` +
          `ownership refs or too large custom claims`,
      );
    }
    return { token, expiresInSeconds: this.#lifetimeSeconds };
  }

  async signJwt(
    payload: Record<string, unknown>,
    options: { typ: string; expiresInSeconds: number; alg?: string },
  ): Promise<string> {
    const lifetime = options.expiresInSeconds;
    const keys =
      options.alg === undefined || options.alg === this.#keys.algorithm
        ? this.#keys
        : this.#otherKeys.get(options.alg);
    if (!keys) throw new Error(`No signing keys for the JWS algorithm '${options.alg}'`);
    // Key retention assumes no token outlives a user token (see createIdentity).
    if (!Number.isInteger(lifetime) || lifetime <= 0 || lifetime > this.#lifetimeSeconds) {
      throw new Error(
        `JWT lifetime must be a whole number of seconds in (0, ${this.#lifetimeSeconds}], got ${lifetime}`,
      );
    }
    const key = await keys.currentKey();
    const iat = Math.floor(this.#now() / 1000);
    return signCompactJws(
      { typ: options.typ, alg: key.alg, kid: key.kid },
      { ...payload, iss: this.#issuer, iat, exp: iat + lifetime },
      key.privateKey,
    );
  }
}
