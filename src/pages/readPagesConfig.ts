import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';

/** How the built-in pages sign the user in. */
export interface PagesConfig {
  /** The sign-in provider whose refresh/start endpoints the pages use. */
  signInProvider?: string;
  /** `auth.environment`, passed to the provider as `env`. */
  environment: string;
  /** `app.baseUrl`: where error pages send a person who has nowhere else to go. */
  appBaseUrl: string;
}

const KEY = 'auth.oidcProvider.signInProvider';

/**
 * Reads `auth.oidcProvider.signInProvider`; without it the first provider
 * configured under `auth.providers` is used (most portals have exactly one).
 */
export function readPagesConfig(config: Config): PagesConfig {
  const environment = config.getOptionalString('auth.environment') ?? 'development';
  const configured = config.getOptionalString(KEY);
  const providers = config.getOptionalConfig('auth.providers')?.keys() ?? [];
  if (configured !== undefined && !providers.includes(configured)) {
    throw new InputError(`${KEY}: '${configured}' is not configured under auth.providers`);
  }
  const appBaseUrl = config.getString('app.baseUrl');
  return { signInProvider: configured ?? providers[0], environment, appBaseUrl };
}
