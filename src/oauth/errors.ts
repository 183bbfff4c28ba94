/**
 * The OAuth error family. Each class carries its RFC error code and HTTP status;
 * `oauthErrorHandler` turns any of them into an RFC 6749 §5.2 JSON body.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_redirect_uri' // RFC 7591 §3.2.2
  | 'invalid_client_metadata' // RFC 7591 §3.2.2
  | 'invalid_target' // RFC 8707 §2
  | 'authorization_pending' // RFC 8628 §3.5
  | 'slow_down'
  | 'expired_token'
  | 'unsupported_token_type' // RFC 7009 §2.2.1
  | 'too_many_requests'
  | 'consent_required' // OIDC Core §3.1.2.6
  | 'login_required' // OIDC Core §3.1.2.6
  | 'unmet_authentication_requirements' // OpenID Connect Unmet Authentication Requirements 1.0
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'invalid_token'; // RFC 6750 §3.1

export abstract class OAuthError extends Error {
  abstract readonly code: OAuthErrorCode;
  readonly status: number = 400;
  /** False when the error concerns the client or redirect URI themselves (never redirect then). */
  readonly mayRedirect: boolean = true;

  constructor(readonly description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends OAuthError {
  readonly code = 'invalid_request';
}
export class InvalidClient extends OAuthError {
  readonly code = 'invalid_client';
  readonly status = 401;
  readonly mayRedirect = false;
}
/** An authorization request whose client cannot be trusted to receive a redirect. */
export class InvalidAuthorizationClient extends OAuthError {
  readonly code = 'invalid_client';
  readonly mayRedirect = false;
}
/** An authorization request whose redirect URI cannot be trusted (never redirected). */
export class InvalidAuthorizationRequest extends OAuthError {
  readonly code = 'invalid_request';
  readonly mayRedirect = false;
}
export class InvalidGrant extends OAuthError {
  readonly code = 'invalid_grant';
}
export class UnauthorizedClient extends OAuthError {
  readonly code = 'unauthorized_client';
}
export class UnsupportedGrantType extends OAuthError {
  readonly code = 'unsupported_grant_type';
}
export class UnsupportedResponseType extends OAuthError {
  readonly code = 'unsupported_response_type';
}
export class InvalidScope extends OAuthError {
  readonly code = 'invalid_scope';
}
export class AccessDenied extends OAuthError {
  readonly code = 'access_denied';
}
export class InvalidRedirectUri extends OAuthError {
  readonly code = 'invalid_redirect_uri';
  readonly mayRedirect = false;
}
export class InvalidClientMetadata extends OAuthError {
  readonly code = 'invalid_client_metadata';
  readonly mayRedirect = false;
}
/** OIDC Core §3.1.2.6: `prompt=none`, but the user must be asked. */
export class ConsentRequired extends OAuthError {
  readonly code = 'consent_required';
}
/** OIDC Core §3.1.2.6: the user must sign in again, and the portal cannot make that happen. */
export class LoginRequired extends OAuthError {
  readonly code = 'login_required';
}
/**
 * OpenID Connect Unmet Authentication Requirements 1.0 §2: the user's
 * authentication cannot satisfy what the client asked for (`acr_values`).
 */
export class UnmetAuthenticationRequirements extends OAuthError {
  readonly code = 'unmet_authentication_requirements';
}
/** OIDC Core §3.1.2.6: request objects (`request`) are not supported. */
export class RequestNotSupported extends OAuthError {
  readonly code = 'request_not_supported';
}
/** OIDC Core §3.1.2.6: `request_uri` is not supported. */
export class RequestUriNotSupported extends OAuthError {
  readonly code = 'request_uri_not_supported';
}
/** RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed. */
export class InvalidToken extends OAuthError {
  readonly code = 'invalid_token';
  readonly status = 401;
  readonly mayRedirect = false;
}
export class InvalidTarget extends OAuthError {
  readonly code = 'invalid_target';
}
export class AuthorizationPending extends OAuthError {
  readonly code = 'authorization_pending';
}
export class SlowDown extends OAuthError {
  readonly code = 'slow_down';
}
export class ExpiredToken extends OAuthError {
  readonly code = 'expired_token';
}
export class UnsupportedTokenType extends OAuthError {
  readonly code = 'unsupported_token_type';
}
export class TooManyRequests extends OAuthError {
  readonly code = 'too_many_requests';
  readonly status = 429;
  // Not an RFC 6749 §4.1.2.1 code, and a flood must not bounce through clients.
  readonly mayRedirect = false;
  constructor(description: string, readonly retryAfterSeconds: number) {
    super(description);
  }
}
/** The database or another dependency is down; the client may retry. */
export class TemporarilyUnavailable extends OAuthError {
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
}
