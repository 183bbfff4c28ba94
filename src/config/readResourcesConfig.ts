import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { readWith } from './readDuration';

/**
 * A resource server outside Backstage that may receive access tokens from
 * the portal (`auth.oidcProvider.resources[]`, issue 14): a company's own
 * MCP server or API. Tokens for it are RFC 9068 JWTs whose `aud` is its
 * identifier, so no Backstage API accepts them.
 */
export interface ResourceServerConfig {
  /** Its identifier (RFC 8707 §2): an absolute https URL (or http on loopback), no fragment. */
  resource: string;
  /** Shown at consent. */
  name: string;
  /** The scopes it understands, beyond openid/profile/email/offline_access. */
  scopes: string[];
  /** When set, only these clients (and acting services, `plugin:<id>`) may get tokens for it. */
  allowedClients?: string[];
  /**
   * The confidential client (from config) the resource server authenticates
   * as at `/v1/introspect`, to read its tokens' claims (RFC 7662 §2.1).
   */
  introspectionClientId?: string;
}

/** A scope token (RFC 6749 §3.3): printable ASCII without space, quote or backslash. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** Scopes with a fixed meaning here; a resource cannot redefine them. */
const RESERVED_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Reads and validates `auth.oidcProvider.resources`. Errors name the key. */
export function readResourcesConfig(config: Config, key: string): ResourceServerConfig[] {
  const entries = readWith(key, () => config.getOptionalConfigArray(key)) ?? [];
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const at = `${key}[${index}]`;
    const read = <T>(name: string, fn: () => T): T => readWith(`${at}.${name}`, fn);
    const resource = read('resource', () => entry.getString('resource'));
    checkResourceIdentifier(resource, `${at}.resource`);
    if (seen.has(resource)) {
      throw new InputError(`${at}.resource: '${resource}' is configured twice`);
    }
    seen.add(resource);
    const name = read('name', () => entry.getOptionalString('name')) ?? new URL(resource).host;
    const scopes = read('scopes', () => entry.getOptionalStringArray('scopes')) ?? [];
    scopes.forEach((scope, i) => {
      if (!SCOPE_TOKEN.test(scope)) {
        throw new InputError(`${at}.scopes[${i}]: '${scope}' is not a scope token (RFC 6749 §3.3)`);
      }
      if (RESERVED_SCOPES.includes(scope)) {
        throw new InputError(`${at}.scopes[${i}]: '${scope}' is a scope of the portal itself`);
      }
    });
    const allowedClients = read('allowedClients', () => entry.getOptionalStringArray('allowedClients'));
    const introspectionClientId = read('introspectionClientId', () =>
      entry.getOptionalString('introspectionClientId'),
    );
    return {
      resource,
      name,
      scopes: [...new Set(scopes)],
      ...(allowedClients ? { allowedClients } : {}),
      ...(introspectionClientId ? { introspectionClientId } : {}),
    };
  });
}

function checkResourceIdentifier(resource: string, key: string): void {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new InputError(`${key}: '${resource}' is not an absolute URL`);
  }
  // RFC 8707 §2: absolute URI, no fragment; it is the tokens' audience, so it must be exact.
  if (resource.includes('#') || url.username || url.password) {
    throw new InputError(`${key}: '${resource}' must not have a fragment or user information`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new InputError(`${key}: '${resource}' must use https (http only on loopback)`);
  }
}
