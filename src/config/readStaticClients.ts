import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { redirectUriRuleViolation } from '../oauth/checks/redirectUriRule';
import { supportedGrantTypes, supportedScopes } from '../oauth/supportedScopes';
import { readWith } from './readDuration';

/**
 * A client pre-registered in app-config, from `auth.staticClients[]`
 * (upstream 0.31's key) or `auth.oidcProvider.clients[]` (ours).
 */
export interface StaticClientConfig {
  clientId: string;
  /** The secret in clear as configured; hashed by the client resolver at startup. */
  clientSecret?: string;
  clientName: string;
  redirectUris: string[];
  /** Scopes the client may request; undefined means every supported scope. */
  scopes?: string[];
  grantTypes: string[];
  /** `idTokenSignedResponseAlg` (ours only): the ID token's JWS algorithm, e.g. RS256. */
  idTokenSignedResponseAlg?: string;
  /** Public clients (`token_endpoint_auth_method: none`) have no secret and must use PKCE. */
  public: boolean;
}

/** Upstream 0.31's key: `clientId`, `clientName`, `clientSecret`, `redirectUris`. */
export const UPSTREAM_STATIC_CLIENTS_KEY = 'auth.staticClients';
/** Ours, which adds `scopes`, `grantTypes` and an explicit `public`. */
export const OIDC_PROVIDER_CLIENTS_KEY = 'auth.oidcProvider.clients';

type Features = { refreshEnabled: boolean; deviceEnabled: boolean };

/**
 * Reads the pre-registered clients of both keys as one set (issue 13:
 * upstream's configuration keeps its meaning). Under `auth.staticClients` a
 * client is public exactly when it has no `clientSecret`, as upstream
 * decides; under `auth.oidcProvider.clients` `public: true` says so and a
 * confidential client must have a secret. Either way ids are unique across
 * both keys and are not URLs (those are client-ID metadata documents), and
 * every redirect URI keeps the redirect-URI rule.
 */
export function readStaticClients(config: Config, features: Features): StaticClientConfig[] {
  const upstream = readClientList(config, UPSTREAM_STATIC_CLIENTS_KEY, features, 'upstream');
  const ours = readClientList(config, OIDC_PROVIDER_CLIENTS_KEY, features, 'own');
  const upstreamIndex = new Map(upstream.map((client, index) => [client.clientId, index]));
  ours.forEach((client, index) => {
    const other = upstreamIndex.get(client.clientId);
    if (other !== undefined) {
      throw new InputError(
        `${OIDC_PROVIDER_CLIENTS_KEY}[${index}].clientId: '${client.clientId}' is also configured ` +
          `in ${UPSTREAM_STATIC_CLIENTS_KEY}[${other}]; configure each client under one of the two keys`,
      );
    }
  });
  return [...upstream, ...ours];
}

function readClientList(
  config: Config,
  key: string,
  features: Features,
  shape: 'upstream' | 'own',
): StaticClientConfig[] {
  const entries = readWith(key, () => config.getOptionalConfigArray(key)) ?? [];
  const seen = new Set<string>();
  const upstreamShape = shape === 'upstream';

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

    const clientSecret = read('clientSecret', () => entry.getOptionalString('clientSecret'));
    // Upstream: a secret makes the client confidential, none makes it public.
    // Config itself refuses an empty string, so `clientSecret: ''` stops startup.
    const isPublic = upstreamShape
      ? clientSecret === undefined
      : readOwnPublic(at, clientSecret, read('public', () => entry.getOptionalBoolean('public')));

    const clientName =
      read('clientName', () => entry.getOptionalString('clientName')) ?? clientId;
    const redirectUris = read('redirectUris', () => entry.getStringArray('redirectUris'));
    if (redirectUris.length === 0) {
      throw new InputError(`${at}.redirectUris: must list at least one redirect URI`);
    }
    redirectUris.forEach((uri, i) => checkRedirectUri(uri, `${at}.redirectUris[${i}]`));

    // Upstream's key has neither: every supported scope, its default grants.
    const scopes = upstreamShape ? undefined : readScopes(entry, at, features);
    const grantTypes = (upstreamShape ? undefined : readGrantTypes(entry, at, features)) ?? [
      'authorization_code',
      ...(features.refreshEnabled ? ['refresh_token'] : []),
    ];
    // Checked against the keys the portal has once they exist (createClientResolver).
    const idTokenSignedResponseAlg = upstreamShape
      ? undefined
      : read('idTokenSignedResponseAlg', () => entry.getOptionalString('idTokenSignedResponseAlg'));

    return {
      clientId,
      ...(clientSecret ? { clientSecret } : {}),
      clientName,
      redirectUris,
      ...(scopes ? { scopes } : {}),
      grantTypes,
      ...(idTokenSignedResponseAlg ? { idTokenSignedResponseAlg } : {}),
      public: isPublic,
    };
  });
}

function readOwnPublic(at: string, clientSecret: string | undefined, isPublic = false): boolean {
  if (isPublic && clientSecret !== undefined) {
    throw new InputError(`${at}.clientSecret: a public client must not have a secret`);
  }
  if (!isPublic && !clientSecret) {
    throw new InputError(
      `${at}.clientSecret: required for a confidential client (or set public: true)`,
    );
  }
  return isPublic;
}

function readScopes(entry: Config, at: string, features: Features): string[] | undefined {
  const scopes = readWith(`${at}.scopes`, () => entry.getOptionalStringArray('scopes'));
  const allowed = supportedScopes(features);
  for (const scope of scopes ?? []) {
    if (!allowed.includes(scope)) {
      throw new InputError(
        `${at}.scopes: '${scope}' is not supported (supported: ${allowed.join(', ')})`,
      );
    }
  }
  return scopes;
}

function readGrantTypes(entry: Config, at: string, features: Features): string[] | undefined {
  const grantTypes = readWith(`${at}.grantTypes`, () => entry.getOptionalStringArray('grantTypes'));
  const allowed = supportedGrantTypes(features);
  for (const grantType of grantTypes ?? []) {
    if (!allowed.includes(grantType)) {
      throw new InputError(
        `${at}.grantTypes: '${grantType}' is not enabled (enabled: ${allowed.join(', ')})`,
      );
    }
  }
  return grantTypes;
}

function checkRedirectUri(uri: string, key: string): void {
  const violation = redirectUriRuleViolation(uri);
  if (violation !== undefined) {
    throw new InputError(`${key}: '${uri}' ${violation}`);
  }
}
