import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { readIdentityConfig, type IdentityConfig } from './readIdentityConfig';
import { readOidcProviderConfig, type OidcProviderConfig } from './readOidcProviderConfig';
import { compileOriginMatcher } from './compileOriginMatcher';

/** Everything the plugin reads from app-config, validated once at startup. */
export interface AuthConfig {
  /** `app.baseUrl`, without a trailing slash. */
  appUrl: string;
  /** Whether a browser origin may receive sign-in results (app origin + extra globs). */
  isOriginAllowed: (origin: string) => boolean;
  identity: IdentityConfig;
  /** `auth.session.secret`, when providers need an express session. */
  sessionSecret?: string;
  oidcProvider: OidcProviderConfig;
}

/**
 * Reads and validates the plugin's configuration. Throws an InputError whose
 * message starts with the offending key.
 */
export function readAuthConfig(config: Config): AuthConfig {
  const appUrl = readAppUrl(config);
  const extraOrigins =
    config.getOptionalStringArray('auth.experimentalExtraAllowedOrigins') ?? [];
  return {
    appUrl,
    isOriginAllowed: compileOriginMatcher(new URL(appUrl).origin, extraOrigins),
    identity: readIdentityConfig(config),
    sessionSecret: config.getOptionalString('auth.session.secret'),
    oidcProvider: readOidcProviderConfig(config),
  };
}

function readAppUrl(config: Config): string {
  const raw = config.getString('app.baseUrl');
  try {
    return new URL(raw).toString().replace(/\/$/, '');
  } catch {
    throw new InputError(`app.baseUrl: '${raw}' is not a valid URL`);
  }
}
