import { InvalidScope } from '../errors';

/** Scopes this provider understands (OIDC Core §5.4, §11). */
export const BASE_SCOPES = ['openid', 'profile', 'email'] as const;
export const OFFLINE_ACCESS = 'offline_access';

/**
 * Parses and validates a `scope` parameter (RFC 6749 §3.3). Unknown scopes,
 * and scopes the client is not registered for, are `invalid_scope`. When the
 * parameter is omitted the client's registered scopes (minus offline_access,
 * which must be asked for) or else `openid` apply.
 */
export function checkScope(
  requested: string | undefined,
  options: {
    refreshEnabled: boolean;
    clientScopes?: readonly string[];
    /** The scopes of the resource server the request is for; its allowedClients govern them. */
    resourceScopes?: readonly string[];
  },
): string[] {
  const supported = new Set<string>(BASE_SCOPES);
  if (options.refreshEnabled) supported.add(OFFLINE_ACCESS);
  const resourceScopes = new Set(options.resourceScopes ?? []);
  if (requested === undefined) {
    const fallback = (options.clientScopes ?? ['openid']).filter(
      s => supported.has(s) && s !== OFFLINE_ACCESS,
    );
    return fallback.length > 0 ? fallback : ['openid'];
  }
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(requested)) {
    throw new InvalidScope('scope must be space-separated scope tokens (RFC 6749 §3.3)');
  }
  const scopes = [...new Set(requested.split(' '))];
  for (const scope of scopes) {
    if (resourceScopes.has(scope)) continue;
    if (!supported.has(scope)) {
      throw new InvalidScope(`scope '${scope}' is not supported`);
    }
    if (options.clientScopes && !options.clientScopes.includes(scope)) {
      throw new InvalidScope(`the client is not allowed to request scope '${scope}'`);
    }
  }
  return scopes;
}
