import { BASE_SCOPES, OFFLINE_ACCESS } from './checks/checkScope';

/** RFC 8628 §3.4 grant type. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693 §2.1 grant type. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * The scopes a client may request; `offline_access` exists only while refresh
 * tokens are enabled, so discovery and validation never disagree.
 */
export function supportedScopes(options: { refreshEnabled: boolean }): string[] {
  return options.refreshEnabled ? [...BASE_SCOPES, OFFLINE_ACCESS] : [...BASE_SCOPES];
}

/** Grant types enabled by configuration, in the order discovery lists them. */
export function supportedGrantTypes(options: {
  refreshEnabled: boolean;
  deviceEnabled: boolean;
}): string[] {
  return [
    'authorization_code',
    ...(options.refreshEnabled ? ['refresh_token'] : []),
    ...(options.deviceEnabled ? [DEVICE_CODE_GRANT_TYPE] : []),
  ];
}
