/**
 * Store interfaces of the authorization code flow. The OAuth layer declares
 * them; `database/` implements them. Stores return data or a result kind and
 * never throw OAuth errors: the endpoint or grant decides what a miss means.
 * Secrets (codes, refresh tokens) cross this boundary only as hashes.
 */

import type { UserAuthentication } from './authenticationContext';
import type { AuthorizationRequest } from './authorizationRequests';

/**
 * An authorization request past the user's decision, as recorded. (Rows an
 * older version or upstream stored still read `pending`; they are never decided.)
 */
export interface AuthorizationSession
  extends Omit<AuthorizationRequest, 'requirements' | 'codeChallenge' | 'codeChallengeMethod'> {
  /** Missing only in rows from before PKCE was required. */
  codeChallenge?: string;
  codeChallengeMethod?: string;
  responseType: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  /** The user who decided; set by the decision. */
  userEntityRef?: string;
}

/** Decided requests in `oauth_authorization_sessions`. */
export interface AuthorizationSessionStore {
  get(id: string): Promise<AuthorizationSession | undefined>;
  /** Whether the request was decided. */
  isDecided(id: string): Promise<boolean>;
  /**
   * Records the request as rejected by the user, if it is its one decision:
   * true for exactly one of any number of racing decisions.
   */
  reject(request: AuthorizationRequest, userEntityRef: string): Promise<boolean>;
}

/** The claims saved at a user's last sign-in (`user_info`), as the token signer reads them. */
export type SavedUserClaims = { sub: string; ent?: string[]; [claim: string]: unknown };

/**
 * An authorization code joined with the session it was issued from and the
 * approving user's saved claims, so a token exchange reads everything at once.
 */
export interface AuthorizationCodeRecord {
  sessionId: string;
  expiresAt: Date;
  session: AuthorizationSession;
  /** Null when the user has no saved claims. */
  savedClaims: SavedUserClaims | null;
  /** The authentication that approved the session (issue 14); undefined when none was recorded. */
  authentication?: UserAuthentication;
}

/** A user's approval of a request, and the code (its hash) it mints. */
export interface Approval {
  request: AuthorizationRequest;
  userEntityRef: string;
  codeHash: string;
  codeExpiresAt: Date;
  /** When the user approved: the grant's start. */
  now: Date;
  /** Until when a token of the grant can be valid, if no refresh token ever extends it. */
  grantExpiresAt: Date;
}

export type RedeemResult =
  | { kind: 'redeemed'; code: AuthorizationCodeRecord }
  /** Already used: whatever it produced must be revoked (RFC 6749 §4.1.2). */
  | { kind: 'replayed'; sessionId: string; clientId: string; userEntityRef?: string }
  | { kind: 'expired' }
  | { kind: 'unknown' };

/** Codes in `oidc_authorization_codes`, keyed by hash. */
export interface AuthorizationCodeStore {
  /**
   * Records the request as approved by the user, if it is its one decision,
   * and stores its grant and its code, with what the request asked of the
   * sign-in and the user's last sign-in as the authentication that approved it: on
   * PostgreSQL one statement (issue 15). Returns that sign-in for the caller
   * to judge (and {@link AuthorizationCodeStore.withdraw} if it falls
   * short); undefined when the request was decided before.
   */
  createApproved(approval: Approval): Promise<{ signIn?: UserAuthentication } | undefined>;
  /**
   * Takes back an approval made by {@link AuthorizationCodeStore.createApproved}
   * before its code left the server: the session becomes rejected, its code is
   * deleted unredeemed and the approving authentication forgotten.
   */
  withdraw(sessionId: string): Promise<void>;
  /** Marks the code used if it is unused and unexpired; exactly one caller wins. */
  redeem(codeHash: string, now: Date): Promise<RedeemResult>;
  /** The client a code was issued to, without spending it; undefined for an unknown code. */
  findClientId(codeHash: string): Promise<string | undefined>;
}

export type RefreshTokenStatus = 'active' | 'rotated' | 'revoked';

export interface RefreshTokenRecord {
  tokenHash: string;
  /** All rotations of one grant share a family (the authorization session id). */
  familyId: string;
  clientId: string;
  userEntityRef: string;
  scopes: string[];
  /** The resource server the family is bound to (RFC 8707); none means Backstage. */
  resource?: string;
  status: RefreshTokenStatus;
  authTime: Date;
  /** How the user authenticated, for the family's ID tokens (OIDC Core §12.2). */
  acr?: string;
  amr?: string[];
  createdAt: Date;
  /** Idle expiry of this token. */
  expiresAt: Date;
  /** Absolute expiry of the family. */
  familyExpiresAt: Date;
}

/** Refresh tokens in `oidc_refresh_tokens`, keyed by hash. */
export interface RefreshTokenStore {
  /**
   * Starts the refresh-token family of a grant (`familyId`): records the
   * grant, to be kept until `grantExpiresAt`, unless it is recorded, and
   * unless the grant was revoked (a replayed code got there first) revokes
   * the user's oldest families beyond the cap and inserts the first token.
   * False, and no token, when the grant was revoked.
   */
  issue(
    record: Omit<RefreshTokenRecord, 'status'>,
    options: { maxActivePerUser: number; grantExpiresAt: Date },
  ): Promise<boolean>;
  find(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Replaces an active token by its successor, in turn with any revocation
   * of its grant: `revoked` when the grant was revoked first, `stale` when
   * the parent was no longer active (another request rotated it first, or
   * it expired), else `rotated`. A family an older version started, with no
   * grant recorded, gets its grant recorded (kept until `grantExpiresAt`).
   */
  rotate(
    parentHash: string,
    successor: Omit<RefreshTokenRecord, 'status'>,
    options: { now: Date; grantExpiresAt: Date },
  ): Promise<RotationOutcome>;
  /**
   * Revokes a grant — recording it, revoked, if it has no record yet (a
   * replayed code that issued no refresh token) — and every usable token of
   * its family; returns how many tokens were still usable. A rotation under
   * way finishes first, and its successor is revoked too.
   */
  revokeGrant(grant: GrantRevocation): Promise<number>;
  /**
   * Records a grant that issued tokens but no refresh token (a device code
   * without `offline_access`), so that revoking the user reaches it; a grant
   * recorded already is left as it is.
   */
  recordGrant(grant: { id: string; clientId: string; userEntityRef: string; now: Date; expiresAt: Date }): Promise<void>;
  /** Whether the grant was revoked (revocation, reuse, a replayed code, an administrator). */
  isGrantRevoked(grantId: string): Promise<boolean>;
  /**
   * Revokes every grant and active token of the user, so each of their
   * families ends; returns how many tokens were active. `userEntityRef` is
   * canonical (lower case) and matches stored refs whatever their case.
   */
  revokeAllForUser(userEntityRef: string, now: Date): Promise<number>;
}

export type RotationOutcome = 'rotated' | 'revoked' | 'stale';

/** A grant to revoke, and how long its revocation must be remembered. */
export interface GrantRevocation {
  /** The consent session or refresh-token family. */
  id: string;
  clientId: string;
  userEntityRef: string;
  now: Date;
  /** No token the grant produced is valid after this: the revocation is kept until then. */
  keepUntil: Date;
}

/** What the catalog says about a user, for the refresh check and ID token claims. */
export interface DirectoryUser {
  displayName?: string;
  email?: string;
  picture?: string;
}

/** The catalog, as the OAuth layer sees it. */
export interface UserDirectory {
  /** The user, or undefined when the entity no longer exists. */
  findUser(userEntityRef: string): Promise<DirectoryUser | undefined>;
}

/**
 * Signs what the token endpoint hands out; implemented by the identity side
 * (identity/createIdentity.ts), declared here so oauth/ does not depend on it.
 */
export interface TokenSigner {
  /**
   * A Backstage user token, which every Backstage API accepts; saves the
   * claims as user info unless `saveUserInfo` is false.
   */
  issueUserToken(params: {
    claims: SavedUserClaims;
    saveUserInfo?: boolean;
    /** Claims for this token only, never saved as user info (e.g. the OAuth client it is for). */
    tokenClaims?: Record<string, unknown>;
    /**
     * The token is an OAuth client's: it is signed under the key's
     * OAuth-client key id, so the limited token anyone can rebuild from it
     * is still known as the client's (issue 25 item 8).
     */
    forOAuthClient?: boolean;
  }): Promise<{ token: string; expiresInSeconds: number }>;
  /** How long a user token lives; other JWTs may live as long, not longer. */
  readonly tokenLifetimeSeconds: number;
  /** Any other JWT (here: ID tokens); `iss`, `iat`, `exp` are set by the signer. */
  signJwt(
    payload: Record<string, unknown>,
    /** `alg`: one of {@link TokenSigner.jwtAlgorithms}; the configured one when omitted. */
    options: { typ: string; expiresInSeconds: number; alg?: string },
  ): Promise<string>;
  /** The JWS algorithms JWTs can be signed with, the configured one first. */
  readonly jwtAlgorithms: string[];
  /** The claims saved at the user's last sign-in. */
  getUserInfo(userEntityRef: string): Promise<{ claims: SavedUserClaims } | undefined>;
  /**
   * Verifies a JWT this portal signed (signature with a published key,
   * issuer, expiry); undefined when it is not one or no longer valid.
   */
  verifyJwt(token: string): Promise<VerifiedJwt | undefined>;
}

/** A refresh token upstream issued, as its row in `offline_sessions` holds it. */
export interface UpstreamRefreshTokenRecord {
  id: string;
  userEntityRef: string;
  /** The client it was issued to; null for upstream's device/legacy flows. */
  clientId: string | null;
  /** Upstream's scrypt hash of the whole token. */
  tokenHash: string;
  createdAt: Date;
  lastUsedAt: Date;
}

/**
 * Upstream's `offline_sessions` in a database taken over from upstream 0.27
 * – 0.31 (issue 13): its refresh tokens are honoured once, then replaced by
 * ours. Every method is a no-op where the table does not exist.
 */
export interface UpstreamRefreshTokenStore {
  find(id: string): Promise<UpstreamRefreshTokenRecord | undefined>;
  /** Deletes the row if it still holds `tokenHash`; true for exactly one caller. */
  consume(id: string, tokenHash: string): Promise<boolean>;
  /** Deletes every row of the user; returns how many. */
  deleteForUser(userEntityRef: string): Promise<number>;
}

/** A JWT this portal signed, as {@link TokenSigner.verifyJwt} found it. */
export interface VerifiedJwt {
  /** The protected header's `typ`. */
  typ?: string;
  payload: Record<string, unknown> & { exp?: number; iat?: number; sub?: string };
}
