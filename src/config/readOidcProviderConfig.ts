import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { compileUrlPatterns, type UrlPattern } from '../oauth/checks/matchUrlPattern';
import { readDurationSeconds, readWith } from './readDuration';
import { readResourcesConfig, type ResourceServerConfig } from './readResourcesConfig';
import { readStaticClients, type StaticClientConfig } from './readStaticClients';

export type { StaticClientConfig } from './readStaticClients';
export type { ResourceServerConfig } from './readResourcesConfig';

/** RFC 6749 §4.1.2 recommends at most 10 minutes; we allow at most one. */
export const DEFAULT_AUTHORIZATION_CODE_LIFETIME_SECONDS = 60;
export const MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS = 60;
export const MIN_AUTHORIZATION_CODE_LIFETIME_SECONDS = 10;
/** SPEC §2: consent sessions live 10 minutes at most. */
export const DEFAULT_CONSENT_SESSION_LIFETIME_SECONDS = 10 * 60;
export const MAX_CONSENT_SESSION_LIFETIME_SECONDS = 10 * 60;
export const MIN_CONSENT_SESSION_LIFETIME_SECONDS = 60;
/** RFC 8628 §3.2; SPEC §2 caps device codes at 10 minutes. */
export const DEFAULT_DEVICE_CODE_LIFETIME_SECONDS = 10 * 60;
export const MAX_DEVICE_CODE_LIFETIME_SECONDS = 10 * 60;
export const MIN_DEVICE_CODE_LIFETIME_SECONDS = 60;
/** RFC 8628 §3.2: clients must wait 5 seconds when no interval is given. */
export const DEFAULT_DEVICE_POLL_INTERVAL_SECONDS = 5;
export const MIN_DEVICE_POLL_INTERVAL_SECONDS = 1;
export const MAX_DEVICE_POLL_INTERVAL_SECONDS = 60;
/** Refresh tokens: idle lifetime, absolute lifetime of a rotation family, per-user cap. */
export const DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600;
export const MIN_REFRESH_TOKEN_LIFETIME_SECONDS = 5 * 60;
export const MAX_REFRESH_TOKEN_LIFETIME_SECONDS = 365 * 24 * 3600;
export const DEFAULT_REFRESH_MAX_ROTATION_LIFETIME_SECONDS = 365 * 24 * 3600;
export const MAX_REFRESH_MAX_ROTATION_LIFETIME_SECONDS = 2 * 365 * 24 * 3600;
export const DEFAULT_REFRESH_MAX_TOKENS_PER_USER = 20;
export const MAX_REFRESH_MAX_TOKENS_PER_USER = 1000;

/** The endpoints that are rate limited (SPEC §2 Operations). */
export type RateLimitedEndpoint =
  | 'authorization'
  | 'registration'
  | 'token'
  | 'deviceAuthorization'
  | 'verification';

/**
 * At most `requests` requests per client address in any `windowSeconds`;
 * for `token`, also at most `requests` grants per user of a public client
 * (see oauth/http/rateLimit.ts); for `verification`, at most `requests`
 * wrong user codes per signed-in user (see pages/createDevicePageRouter.ts).
 */
export interface RateLimit {
  requests: number;
  windowSeconds: number;
}

/**
 * Sized for people and CLIs: registration is rare, token requests come a few
 * times a minute per user, and guessing user codes must stay slow (RFC 8628
 * §5.1): five wrong codes per user in five minutes, as the page always allowed.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitedEndpoint, RateLimit>> = {
  authorization: { requests: 120, windowSeconds: 60 },
  registration: { requests: 20, windowSeconds: 3600 },
  token: { requests: 300, windowSeconds: 60 },
  deviceAuthorization: { requests: 30, windowSeconds: 60 },
  verification: { requests: 5, windowSeconds: 300 },
};

/** Everything the OIDC provider reads from app-config, validated once at startup. */
export interface OidcProviderConfig {
  /** `auth.experimentalDynamicClientRegistration` (RFC 7591). */
  dynamicClientRegistration: {
    enabled: boolean;
    isRedirectUriAllowed: UrlPattern;
  };
  /** `auth.clientIdMetadataDocuments` (or its deprecated `experimental…` alias). */
  clientIdMetadataDocuments: {
    enabled: boolean;
    isClientIdAllowed: UrlPattern;
    isRedirectUriAllowed: UrlPattern;
  };
  /**
   * `auth.oidcProvider.dangerouslyAllowInsecureClientIdMetadataDocuments`: for
   * development and tests only, accept http and loopback/private metadata URLs.
   */
  dangerouslyAllowInsecureClientIdMetadataDocuments: boolean;
  /** `auth.experimentalRefreshToken`. */
  refreshToken: {
    enabled: boolean;
    /** Idle lifetime of each refresh token. */
    tokenLifetimeSeconds: number;
    /** Absolute lifetime of a rotation family, counted from the first grant. */
    maxRotationLifetimeSeconds: number;
    maxTokensPerUser: number;
    /**
     * `dangerouslyDisableCatalogPresenceCheck` inverted: whether a refresh
     * requires the user to still exist in the catalog (upstream's default).
     */
    requireUserInCatalog: boolean;
  };
  /** `auth.oidcProvider.resources`: resource servers outside Backstage (RFC 8707, RFC 9068). */
  resources: ResourceServerConfig[];
  /** Pre-registered clients: `auth.staticClients` (upstream's key) and `auth.oidcProvider.clients`, as one set. */
  clients: StaticClientConfig[];
  authorizationCodeLifetimeSeconds: number;
  consentSessionLifetimeSeconds: number;
  /** `auth.oidcProvider.deviceAuthorization` (RFC 8628). */
  deviceAuthorization: {
    enabled: boolean;
    /** When set, only these client ids may use the device grant. */
    allowedClientIds?: string[];
    lifetimeSeconds: number;
    intervalSeconds: number;
  };
  /** Where users approve: the app's consent page (default) or the plugin's own page. */
  consentPage: 'app' | 'builtin';
  /**
   * `auth.oidcProvider.acrValuesSupported`: the `acr` values sign-ins through
   * the providers can carry, which clients may ask for with `acr_values`
   * (issue 14); empty: every `acr_values` is refused.
   */
  acrValuesSupported: string[];
  /**
   * `auth.oidcProvider.rateLimits`: per-address budgets of the limited
   * endpoints; `verification` is the device page's wrong-code budget.
   */
  rateLimits: Record<RateLimitedEndpoint, RateLimit>;
}

const DCR = 'auth.experimentalDynamicClientRegistration';
const CIMD = 'auth.clientIdMetadataDocuments';
const CIMD_DEPRECATED = 'auth.experimentalClientIdMetadataDocuments';
const REFRESH = 'auth.experimentalRefreshToken';
const OP = 'auth.oidcProvider';

/**
 * Reads every OIDC-provider key (upstream's experimental keys and
 * `auth.oidcProvider.*`). Errors are InputErrors starting with the key.
 */
export function readOidcProviderConfig(config: Config): OidcProviderConfig {
  const refreshToken = readRefreshTokenConfig(config);
  const deviceAuthorization = readDeviceAuthorizationConfig(config);
  return {
    dynamicClientRegistration: {
      enabled: readBoolean(config, `${DCR}.enabled`, false),
      isRedirectUriAllowed: readPatterns(config, `${DCR}.allowedRedirectUriPatterns`),
    },
    clientIdMetadataDocuments: readCimdConfig(config),
    dangerouslyAllowInsecureClientIdMetadataDocuments: readBoolean(
      config,
      `${OP}.dangerouslyAllowInsecureClientIdMetadataDocuments`,
      false,
    ),
    refreshToken,
    resources: readResourcesConfig(config, `${OP}.resources`),
    clients: readStaticClients(config, {
      refreshEnabled: refreshToken.enabled,
      deviceEnabled: deviceAuthorization.enabled,
    }),
    authorizationCodeLifetimeSeconds: readDurationSeconds(
      config,
      `${OP}.authorizationCodeLifetime`,
      {
        defaultSeconds: DEFAULT_AUTHORIZATION_CODE_LIFETIME_SECONDS,
        minSeconds: MIN_AUTHORIZATION_CODE_LIFETIME_SECONDS,
        maxSeconds: MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS,
      },
    ),
    consentSessionLifetimeSeconds: readDurationSeconds(config, `${OP}.consentSessionLifetime`, {
      defaultSeconds: DEFAULT_CONSENT_SESSION_LIFETIME_SECONDS,
      minSeconds: MIN_CONSENT_SESSION_LIFETIME_SECONDS,
      maxSeconds: MAX_CONSENT_SESSION_LIFETIME_SECONDS,
    }),
    deviceAuthorization,
    consentPage: readConsentPage(config),
    acrValuesSupported: readAcrValuesSupported(config),
    rateLimits: readRateLimits(config),
  };
}

function readBoolean(config: Config, key: string, fallback: boolean): boolean {
  return readWith(key, () => config.getOptionalBoolean(key)) ?? fallback;
}

/**
 * Client-ID metadata documents upstream (0.31) accepts when
 * `allowedClientIdPatterns` is not set: well-known MCP clients. The built-in
 * Backstage CLI document is always accepted on top of any list.
 */
export const DEFAULT_CIMD_CLIENT_ID_PATTERNS = [
  'https://claude.ai/**',
  'https://vscode.dev/**',
  'https://chatgpt.com/oauth/codex/*/client.json',
  'https://cursor.com/oauth/mcp-client.json',
];
/** Redirect URIs a metadata document may use by default: loopback only, as upstream. */
export const DEFAULT_CIMD_REDIRECT_URI_PATTERNS = [
  'http://localhost:*/**',
  'http://127.0.0.1:*/**',
  'http://[::1]:*/**',
];

/** A missing key means `fallback` (`['*']`: every URL, as upstream's DCR default). */
function readPatterns(config: Config, key: string, fallback: string[] = ['*']): UrlPattern {
  const patterns = readWith(key, () => config.getOptionalStringArray(key)) ?? fallback;
  patterns.forEach((pattern, index) => {
    try {
      compileUrlPatterns([pattern]);
    } catch (error) {
      throw new InputError(`${key}[${index}]: ${(error as Error).message}`);
    }
  });
  return compileUrlPatterns(patterns);
}

function readCimdConfig(config: Config): OidcProviderConfig['clientIdMetadataDocuments'] {
  // The deprecated alias is honoured only when the current key is absent.
  const base = !config.has(CIMD) && config.has(CIMD_DEPRECATED) ? CIMD_DEPRECATED : CIMD;
  return {
    enabled: readBoolean(config, `${base}.enabled`, false),
    isClientIdAllowed: readPatterns(
      config,
      `${base}.allowedClientIdPatterns`,
      DEFAULT_CIMD_CLIENT_ID_PATTERNS,
    ),
    isRedirectUriAllowed: readPatterns(
      config,
      `${base}.allowedRedirectUriPatterns`,
      DEFAULT_CIMD_REDIRECT_URI_PATTERNS,
    ),
  };
}

function readRefreshTokenConfig(config: Config): OidcProviderConfig['refreshToken'] {
  const tokenLifetimeSeconds = readDurationSeconds(config, `${REFRESH}.tokenLifetime`, {
    defaultSeconds: DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS,
    minSeconds: MIN_REFRESH_TOKEN_LIFETIME_SECONDS,
    maxSeconds: MAX_REFRESH_TOKEN_LIFETIME_SECONDS,
  });
  const maxRotationLifetimeSeconds = readDurationSeconds(
    config,
    `${REFRESH}.maxRotationLifetime`,
    {
      defaultSeconds: DEFAULT_REFRESH_MAX_ROTATION_LIFETIME_SECONDS,
      minSeconds: tokenLifetimeSeconds,
      maxSeconds: MAX_REFRESH_MAX_ROTATION_LIFETIME_SECONDS,
    },
  );
  const maxTokensKey = `${REFRESH}.maxTokensPerUser`;
  const maxTokensPerUser =
    readWith(maxTokensKey, () => config.getOptionalNumber(maxTokensKey)) ??
    DEFAULT_REFRESH_MAX_TOKENS_PER_USER;
  if (!Number.isInteger(maxTokensPerUser) || maxTokensPerUser < 1) {
    throw new InputError(`${maxTokensKey}: must be a positive integer`);
  }
  return {
    enabled: readBoolean(config, `${REFRESH}.enabled`, false),
    tokenLifetimeSeconds,
    maxRotationLifetimeSeconds,
    maxTokensPerUser: Math.min(maxTokensPerUser, MAX_REFRESH_MAX_TOKENS_PER_USER),
    requireUserInCatalog: !readBoolean(config, `${REFRESH}.dangerouslyDisableCatalogPresenceCheck`, false),
  };
}

function readDeviceAuthorizationConfig(
  config: Config,
): OidcProviderConfig['deviceAuthorization'] {
  const key = `${OP}.deviceAuthorization`;
  const allowedKey = `${key}.allowedClientIds`;
  const allowedClientIds = readWith(allowedKey, () => config.getOptionalStringArray(allowedKey));
  return {
    enabled: readBoolean(config, `${key}.enabled`, false),
    ...(allowedClientIds ? { allowedClientIds } : {}),
    lifetimeSeconds: readDurationSeconds(config, `${key}.lifetime`, {
      defaultSeconds: DEFAULT_DEVICE_CODE_LIFETIME_SECONDS,
      minSeconds: MIN_DEVICE_CODE_LIFETIME_SECONDS,
      maxSeconds: MAX_DEVICE_CODE_LIFETIME_SECONDS,
    }),
    intervalSeconds: readDurationSeconds(config, `${key}.interval`, {
      defaultSeconds: DEFAULT_DEVICE_POLL_INTERVAL_SECONDS,
      minSeconds: MIN_DEVICE_POLL_INTERVAL_SECONDS,
      maxSeconds: MAX_DEVICE_POLL_INTERVAL_SECONDS,
    }),
  };
}

function readConsentPage(config: Config): 'app' | 'builtin' {
  const key = `${OP}.consentPage`;
  const value = readWith(key, () => config.getOptionalString(key)) ?? 'app';
  if (value !== 'app' && value !== 'builtin') {
    throw new InputError(`${key}: must be 'app' or 'builtin', got '${value}'`);
  }
  return value;
}

/** An acr value is one token of the space-separated `acr_values` (OIDC Core §3.1.2.1). */
function readAcrValuesSupported(config: Config): string[] {
  const key = `${OP}.acrValuesSupported`;
  const values = readWith(key, () => config.getOptionalStringArray(key)) ?? [];
  values.forEach((value, index) => {
    if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
      throw new InputError(
        `${key}[${index}]: must be 1 to 255 printable ASCII characters without spaces, got '${value}'`,
      );
    }
  });
  return [...new Set(values)];
}

function readRateLimits(config: Config): Record<RateLimitedEndpoint, RateLimit> {
  const limits = { ...DEFAULT_RATE_LIMITS };
  for (const endpoint of Object.keys(DEFAULT_RATE_LIMITS) as RateLimitedEndpoint[]) {
    const key = `${OP}.rateLimits.${endpoint}`;
    if (!config.has(key)) continue;
    readWith(key, () => config.getConfig(key));
    const requestsKey = `${key}.requests`;
    const requests =
      readWith(requestsKey, () => config.getOptionalNumber(requestsKey)) ??
      DEFAULT_RATE_LIMITS[endpoint].requests;
    if (!Number.isInteger(requests) || requests < 1) {
      throw new InputError(`${requestsKey}: must be a whole number of requests, at least 1`);
    }
    limits[endpoint] = {
      requests,
      windowSeconds: readDurationSeconds(config, `${key}.window`, {
        defaultSeconds: DEFAULT_RATE_LIMITS[endpoint].windowSeconds,
        minSeconds: 1,
        maxSeconds: 24 * 3600,
      }),
    };
  }
  return limits;
}
