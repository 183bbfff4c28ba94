import type { Config } from '@backstage/config';

/** Owned by the identity work (issue 3): token lifetime, algorithm, key store. */
export interface IdentityConfig {
  placeholder?: never;
}

export function readIdentityConfig(_config: Config): IdentityConfig {
  return {};
}
