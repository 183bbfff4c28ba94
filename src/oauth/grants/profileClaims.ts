import type { DirectoryUser } from '../stores';

/**
 * The catalog's profile as OIDC claims, only for the scopes granted
 * (OIDC Core §5.4: `profile` → name, picture; `email` → email). Shared by
 * the ID token and `/v1/userinfo`, so both say the same.
 */
export function profileClaims(
  user: DirectoryUser | undefined,
  scopes: readonly string[],
): Record<string, string> {
  const profile = scopes.includes('profile');
  return {
    ...(profile && user?.displayName ? { name: user.displayName } : {}),
    ...(profile && user?.picture ? { picture: user.picture } : {}),
    ...(scopes.includes('email') && user?.email ? { email: user.email } : {}),
  };
}
