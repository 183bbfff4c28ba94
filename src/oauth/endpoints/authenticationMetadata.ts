import type { OidcProviderConfig } from '../../config/readOidcProviderConfig';

/**
 * The claims this server can put into ID tokens and `/v1/userinfo`
 * (OIDC Discovery §3). `auth_time` is in every ID token; `acr` and `amr`
 * whenever the sign-in provider's ID token reported them (issue 14).
 */
export const CLAIMS_SUPPORTED = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'azp',
  'acr',
  'amr',
  'name',
  'picture',
  'email',
];

/**
 * Discovery metadata about authentication (issue 14): the claims, and the
 * `acr` values a client may ask for with `acr_values`, only when there are
 * any (every `acr_values` is refused otherwise).
 */
export function authenticationMetadata(config: Pick<OidcProviderConfig, 'acrValuesSupported'>) {
  return {
    claims_supported: CLAIMS_SUPPORTED,
    ...(config.acrValuesSupported.length > 0
      ? { acr_values_supported: config.acrValuesSupported }
      : {}),
  };
}
