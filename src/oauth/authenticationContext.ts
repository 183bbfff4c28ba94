/**
 * How and when a user last authenticated (issue 14), and what an
 * authorization request demands of that. The portal delegates the
 * authentication itself (passwords, MFA) to its sign-in providers; it
 * records when a user last signed in through one and what the provider's
 * ID token said about it, and passes that on in the ID tokens it issues.
 */

/** One authentication of a user (OIDC Core §2: `auth_time`, `acr`, `amr`). */
export interface UserAuthentication {
  /** When the user authenticated: the provider's own `auth_time` when it reports one. */
  authTime: Date;
  /** Authentication Context Class Reference, as the provider reported it. */
  acr?: string;
  /** Authentication Methods References (RFC 8176), as the provider reported them. */
  amr?: string[];
}

/** A user's last sign-in through a sign-in provider. */
export interface SignInRecord extends UserAuthentication {
  userEntityRef: string;
  /** The provider the user signed in with (`auth.providers.<id>`). */
  providerId: string;
}

/** The authentication a sign-in record describes, without whose and through which provider. */
export function authenticationOf(record: SignInRecord): UserAuthentication {
  return { authTime: record.authTime, acr: record.acr, amr: record.amr };
}

/** The last sign-in of each user (`oidc_user_sign_ins`). */
export interface UserSignInStore {
  get(userEntityRef: string): Promise<SignInRecord | undefined>;
  /** Inserts or replaces the user's record. */
  save(record: SignInRecord): Promise<void>;
}

/**
 * What an authorization request asks of the user's authentication
 * (OIDC Core §3.1.2.1: `max_age`, `prompt=login`, `acr_values`).
 */
export interface AuthenticationRequirements {
  /** When the request arrived; a sign-in after it is a re-authentication for it. */
  requestedAt: Date;
  /** The user must have authenticated at most this long ago (or during this request). */
  maxAgeSeconds?: number;
  /** `prompt=login`: the user must authenticate during this request. */
  promptLogin: boolean;
  /** The sign-in's `acr` must be one of these. */
  acrValues?: string[];
}
