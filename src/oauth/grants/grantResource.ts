import type { ResourceServerConfig } from '../../config/readOidcProviderConfig';
import { resolveResource, resourceOf } from '../checks/checkResource';
import type { OAuthContext } from '../context';
import { InvalidTarget } from '../errors';
import type { Client } from '../model';

/**
 * The resource server a grant's tokens are for. A grant is bound to the
 * resource its authorization named (RFC 8707 §2.2): a token request may name
 * that resource again, but not another one (`invalid_target`); a refresh
 * token stays bound for its whole family. Undefined means Backstage.
 */
export function grantResource(
  ctx: Pick<OAuthContext, 'issuer' | 'config'>,
  bound: string | undefined,
  requested: string | undefined,
  client: Client,
): ResourceServerConfig | undefined {
  const server = bound === undefined ? undefined : ctx.config.resources.find(r => r.resource === bound);
  if (bound !== undefined && !server) {
    throw new InvalidTarget(`resource '${bound}' is no longer configured`);
  }
  if (requested !== undefined) {
    const target = resolveResource(requested, { issuer: ctx.issuer, resources: ctx.config.resources, client });
    if (resourceOf(target) !== bound) {
      throw new InvalidTarget(
        bound === undefined
          ? 'this grant is for Backstage; it cannot give tokens for another resource'
          : `this grant is for resource '${bound}' only`,
      );
    }
  }
  return server;
}
