import type { AuthenticationRequirements } from '../authenticationContext';
import {
  ConsentRequired,
  InvalidRequest,
  LoginRequired,
  UnmetAuthenticationRequirements,
} from '../errors';
import type { OAuthParams } from '../http/parseParams';

/** `max_age` is kept in a 32-bit column; a longer one asks for nothing more. */
export const MAX_MAX_AGE_SECONDS = 2_147_483_647;

/** What the server can do about the user's authentication. */
export interface AuthenticationCapabilities {
  /** Only the built-in consent page can send the user to sign in again. */
  canReauthenticate: boolean;
  /** `auth.oidcProvider.acrValuesSupported`: the acr values sign-ins can carry. */
  acrValuesSupported: readonly string[];
}

/**
 * Reads what an authorization request asks of the user's authentication
 * (OIDC Core §3.1.2.1: `prompt`, `max_age`, `acr_values`) and refuses what
 * cannot be honoured instead of ignoring it. Undefined when it asks nothing.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 * @see https://openid.net/specs/openid-connect-unmet-authentication-requirements-1_0.html
 */
export function checkAuthenticationRequest(
  params: OAuthParams,
  capabilities: AuthenticationCapabilities,
  now: Date,
): AuthenticationRequirements | undefined {
  const prompt = params.prompt?.split(' ').filter(Boolean) ?? [];
  if (prompt.includes('none')) {
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if (prompt.length > 1) {
      throw new InvalidRequest("prompt 'none' must not be combined with other values");
    }
    // Every request goes through the consent page, so it can never complete silently.
    throw new ConsentRequired('the user must approve this request; prompt=none cannot be honoured');
  }
  const promptLogin = prompt.includes('login');
  if (promptLogin && !capabilities.canReauthenticate) {
    throw new LoginRequired(
      "prompt=login cannot be honoured: this portal's consent page cannot ask the user to sign in again",
    );
  }
  const maxAgeSeconds = readMaxAge(params.max_age);
  const acrValues = readAcrValues(params.acr_values, capabilities.acrValuesSupported);
  if (!promptLogin && maxAgeSeconds === undefined && acrValues === undefined) {
    return undefined;
  }
  return {
    requestedAt: now,
    promptLogin,
    ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
    ...(acrValues ? { acrValues } : {}),
  };
}

function readMaxAge(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) {
    throw new InvalidRequest('max_age must be a whole number of seconds');
  }
  return Math.min(Number(value), MAX_MAX_AGE_SECONDS);
}

function readAcrValues(value: string | undefined, supported: readonly string[]): string[] | undefined {
  const requested = [...new Set(value?.split(' ').filter(Boolean) ?? [])];
  if (requested.length === 0) return undefined;
  if (!requested.some(acr => supported.includes(acr))) {
    throw new UnmetAuthenticationRequirements(
      supported.length === 0
        ? 'acr_values cannot be met: this server passes on no authentication context class'
        : `acr_values cannot be met; supported values are: ${supported.join(' ')}`,
    );
  }
  return requested;
}
