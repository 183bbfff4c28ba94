import type { Config } from '@backstage/config';

/** Owned by the OIDC provider work (issue 4): `auth.oidcProvider.*` and upstream's OIDC keys. */
export interface OidcProviderConfig {
  placeholder?: never;
}

export function readOidcProviderConfig(_config: Config): OidcProviderConfig {
  return {};
}
