import { InvalidRequest } from '../errors';
import type { OAuthParams } from '../http/parseParams';

/**
 * Throws `invalid_request` naming the first missing parameter
 * (RFC 6749 §4.1.3, §5.2).
 */
export function requireParams(params: OAuthParams, ...names: string[]): void {
  for (const name of names) {
    if (params[name] === undefined) {
      throw new InvalidRequest(`missing required parameter '${name}'`);
    }
  }
}
