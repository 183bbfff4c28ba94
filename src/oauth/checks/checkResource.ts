import { InvalidTarget } from '../errors';

/**
 * Validates an RFC 8707 `resource` indicator: an absolute URI without a
 * fragment (§2) that points inside this Backstage installation, i.e. under
 * the backend's `/api/` (the issuer's parent path) on the issuer's origin. Anything else is
 * `invalid_target`, since the access token is a Backstage token that no other
 * resource server accepts.
 */
export function checkResource(resource: string | undefined, issuer: string): string | undefined {
  if (resource === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new InvalidTarget('resource must be an absolute URI');
  }
  if (url.hash || resource.includes('#')) {
    throw new InvalidTarget('resource must not contain a fragment');
  }
  // The issuer is `<backend>/api/auth`; every plugin lives beside it.
  const base = new URL(issuer);
  const apiRoot = base.pathname.replace(/\/[^/]*\/?$/, '/');
  const inside =
    url.origin === base.origin &&
    !url.username &&
    !url.password &&
    (url.pathname === apiRoot.slice(0, -1) || url.pathname.startsWith(apiRoot));
  if (!inside) {
    throw new InvalidTarget(`resource '${resource}' is not served by this Backstage installation`);
  }
  return resource;
}
