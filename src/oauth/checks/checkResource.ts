import type { ResourceServerConfig } from '../../config/readOidcProviderConfig';
import { InvalidTarget } from '../errors';
import type { Client } from '../model';

/** What a token is for: Backstage itself, or a configured resource server outside it. */
export type ResourceTarget =
  | { kind: 'backstage' }
  | { kind: 'server'; server: ResourceServerConfig };

const BACKSTAGE: ResourceTarget = { kind: 'backstage' };

/**
 * Resolves an RFC 8707 `resource` indicator. None, or one inside this
 * Backstage installation (under the backend's `/api/`, the issuer's parent
 * path, on the issuer's origin), means a Backstage user token. One that names
 * a configured resource server (`auth.oidcProvider.resources`, exactly) means
 * an RFC 9068 token for it, if the client may have one. Anything else is
 * `invalid_target` (§2).
 */
export function resolveResource(
  resource: string | undefined,
  options: { issuer: string; resources: readonly ResourceServerConfig[]; client?: Client; actor?: string },
): ResourceTarget {
  if (resource === undefined) return BACKSTAGE;
  const server = options.resources.find(r => r.resource === resource);
  if (server) {
    const party = options.actor ?? options.client?.clientId;
    if (server.allowedClients && (party === undefined || !server.allowedClients.includes(party))) {
      throw new InvalidTarget(`the client may not have tokens for resource '${resource}'`);
    }
    return { kind: 'server', server };
  }
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new InvalidTarget('resource must be an absolute URI');
  }
  if (url.hash || resource.includes('#')) {
    throw new InvalidTarget('resource must not contain a fragment');
  }
  if (!isInsideBackstage(url, options.issuer)) {
    throw new InvalidTarget(`resource '${resource}' is not served by this Backstage installation`);
  }
  return BACKSTAGE;
}

/** Whether a URL is under this installation's `/api/` (the issuer is `<backend>/api/auth`). */
export function isInsideBackstage(url: URL, issuer: string): boolean {
  const base = new URL(issuer);
  const apiRoot = base.pathname.replace(/\/[^/]*\/?$/, '/');
  return (
    url.origin === base.origin &&
    !url.username &&
    !url.password &&
    (url.pathname === apiRoot.slice(0, -1) || url.pathname.startsWith(apiRoot))
  );
}

/** The identifier a target binds a grant to: undefined for Backstage. */
export function resourceOf(target: ResourceTarget): string | undefined {
  return target.kind === 'server' ? target.server.resource : undefined;
}
