import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { redirectUriRuleViolation } from '../oauth/checks/redirectUriRule';
import { supportedGrantTypes, supportedScopes } from '../oauth/supportedScopes';
import { readWith } from './readDuration';

/** A client pre-registered in app-config (`auth.oidcProvider.clients[]`). */
export interface StaticClientConfig {
  clientId: string;
  /** The secret in clear as configured; hashed by the client resolver at startup. */
  clientSecret?: string;
  clientName: string;
  redirectUris: string[];
  /** Scopes the client may request; undefined means every supported scope. */
  scopes?: string[];
  grantTypes: string[];
  /** Public clients (`token_endpoint_auth_method: none`) have no secret and must use PKCE. */
  public: boolean;
}

/**
 * Reads and validates pre-registered clients. A confidential client needs a
 * secret, a public one must not have one, ids are unique and are not URLs
 * (those are client-ID metadata documents).
 */
export function readStaticClients(
  config: Config,
  key: string,
  features: { refreshEnabled: boolean; deviceEnabled: boolean },
): StaticClientConfig[] {
  const entries = readWith(key, () => config.getOptionalConfigArray(key)) ?? [];
  const seen = new Set<string>();
  const grantTypesAllowed = supportedGrantTypes(features);
  const scopesAllowed = supportedScopes(features);

  return entries.map((entry, index) => {
    const at = `${key}[${index}]`;
    const read = <T>(name: string, fn: () => T): T => readWith(`${at}.${name}`, fn);

    const clientId = read('clientId', () => entry.getString('clientId')).trim();
    if (clientId === '' || clientId.length > 255) {
      throw new InputError(`${at}.clientId: must be 1 to 255 characters`);
    }
    if (/^https?:\/\//i.test(clientId)) {
      throw new InputError(
        `${at}.clientId: must not be a URL; URL client ids are client-ID metadata documents`,
      );
    }
    if (seen.has(clientId)) {
      throw new InputError(`${at}.clientId: '${clientId}' is configured twice`);
    }
    seen.add(clientId);

    const isPublic = read('public', () => entry.getOptionalBoolean('public')) ?? false;
    const clientSecret = read('clientSecret', () => entry.getOptionalString('clientSecret'));
    if (isPublic && clientSecret !== undefined) {
      throw new InputError(`${at}.clientSecret: a public client must not have a secret`);
    }
    if (!isPublic && !clientSecret) {
      throw new InputError(
        `${at}.clientSecret: required for a confidential client (or set public: true)`,
      );
    }

    const clientName =
      read('clientName', () => entry.getOptionalString('clientName')) ?? clientId;
    const redirectUris = read('redirectUris', () => entry.getStringArray('redirectUris'));
    if (redirectUris.length === 0) {
      throw new InputError(`${at}.redirectUris: must list at least one redirect URI`);
    }
    redirectUris.forEach((uri, i) => checkRedirectUri(uri, `${at}.redirectUris[${i}]`));

    const scopes = read('scopes', () => entry.getOptionalStringArray('scopes'));
    for (const scope of scopes ?? []) {
      if (!scopesAllowed.includes(scope)) {
        throw new InputError(
          `${at}.scopes: '${scope}' is not supported (supported: ${scopesAllowed.join(', ')})`,
        );
      }
    }
    const grantTypes = read('grantTypes', () => entry.getOptionalStringArray('grantTypes')) ?? [
      'authorization_code',
      ...(features.refreshEnabled ? ['refresh_token'] : []),
    ];
    for (const grantType of grantTypes) {
      if (!grantTypesAllowed.includes(grantType)) {
        throw new InputError(
          `${at}.grantTypes: '${grantType}' is not enabled (enabled: ${grantTypesAllowed.join(', ')})`,
        );
      }
    }

    return {
      clientId,
      ...(clientSecret ? { clientSecret } : {}),
      clientName,
      redirectUris,
      ...(scopes ? { scopes } : {}),
      grantTypes,
      public: isPublic,
    };
  });
}

function checkRedirectUri(uri: string, key: string): void {
  const violation = redirectUriRuleViolation(uri);
  if (violation !== undefined) {
    throw new InputError(`${key}: '${uri}' ${violation}`);
  }
}
