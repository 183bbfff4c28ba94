import type { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { isOAuthClientKeyId } from '../oauth/oauthClientTokens';
import { readDurationSeconds } from './readDuration';

/** JWS algorithms a signing key may use (RFC 7518 §3.1, RFC 8037 §3.1). */
export const SIGNING_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;

/** One of {@link SIGNING_ALGORITHMS}. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A PEM key pair from `auth.keyStore.static.keys[]`; `algorithm` defaults to ES256. */
export interface StaticKeyConfig {
  publicKeyFile: string;
  privateKeyFile: string;
  keyId: string;
  algorithm: SigningAlgorithm;
}

/** Where signing keys live, from `auth.keyStore`. */
export type KeyStoreConfig =
  | { provider: 'database' }
  | { provider: 'memory' }
  | { provider: 'static'; keys: StaticKeyConfig[] };

/** Token lifetime, algorithm, ownership claim and key store, validated at startup. */
export interface IdentityConfig {
  /** `auth.backstageTokenExpiration`, clamped to [10 min, 24 h]; default 1 h. */
  tokenLifetimeSeconds: number;
  /** `auth.identityTokenAlgorithm`; default ES256. */
  algorithm: SigningAlgorithm;
  /** `auth.omitIdentityTokenOwnershipClaim`; default true. */
  omitOwnershipClaim: boolean;
  keyStore: KeyStoreConfig;
}

/** As upstream: a static key's algorithm does not follow auth.identityTokenAlgorithm. */
const DEFAULT_STATIC_KEY_ALGORITHM: SigningAlgorithm = 'ES256';
const MIN_TOKEN_LIFETIME_SECONDS = 10 * 60;
const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
const DEFAULT_TOKEN_LIFETIME_SECONDS = 60 * 60;

/**
 * Reads the identity keys under `auth`. Errors are InputErrors whose message
 * starts with the offending key.
 */
export function readIdentityConfig(config: Config): IdentityConfig {
  const algorithm = readAlgorithm(config, 'auth.identityTokenAlgorithm') ?? 'ES256';
  return {
    tokenLifetimeSeconds: readDurationSeconds(config, 'auth.backstageTokenExpiration', {
      defaultSeconds: DEFAULT_TOKEN_LIFETIME_SECONDS,
      minSeconds: MIN_TOKEN_LIFETIME_SECONDS,
      maxSeconds: MAX_TOKEN_LIFETIME_SECONDS,
    }),
    algorithm,
    omitOwnershipClaim:
      readKey('auth.omitIdentityTokenOwnershipClaim', () =>
        config.getOptionalBoolean('auth.omitIdentityTokenOwnershipClaim'),
      ) ?? true,
    keyStore: readKeyStore(config),
  };
}

function readAlgorithm(
  config: Config,
  key: string,
  fullKey = key,
): SigningAlgorithm | undefined {
  const value = readKey(fullKey, () => config.getOptionalString(key));
  if (value === undefined) return undefined;
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(value)) {
    throw new InputError(
      `${fullKey}: '${value}' is not supported; use one of ${SIGNING_ALGORITHMS.join(', ')}`,
    );
  }
  return value as SigningAlgorithm;
}

function readKeyStore(config: Config): KeyStoreConfig {
  const provider =
    readKey('auth.keyStore.provider', () => config.getOptionalString('auth.keyStore.provider')) ??
    'database';
  switch (provider) {
    case 'database':
    case 'memory':
      return { provider };
    case 'static':
      return { provider, keys: readStaticKeys(config) };
    default:
      throw new InputError(
        `auth.keyStore.provider: '${provider}' is not supported; use database, memory or static`,
      );
  }
}

function readStaticKeys(config: Config): StaticKeyConfig[] {
  const entries = readKey('auth.keyStore.static.keys', () =>
    config.getOptionalConfigArray('auth.keyStore.static.keys'),
  );
  if (!entries || entries.length === 0) {
    throw new InputError(
      'auth.keyStore.static.keys: at least one key pair is required when auth.keyStore.provider is static',
    );
  }
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const prefix = `auth.keyStore.static.keys[${index}]`;
    const read = (name: string) =>
      readKey(`${prefix}.${name}`, () => entry.getString(name));
    const keyId = read('keyId');
    if (seen.has(keyId)) {
      throw new InputError(`${prefix}.keyId: '${keyId}' is used by more than one key`);
    }
    // The JWKS lists every key a second time under such an id (issue 25 item 8).
    if (isOAuthClientKeyId(keyId)) {
      throw new InputError(
        `${prefix}.keyId: '${keyId}' is reserved; ids of that form name keys that sign OAuth clients' tokens`,
      );
    }
    seen.add(keyId);
    return {
      publicKeyFile: read('publicKeyFile'),
      privateKeyFile: read('privateKeyFile'),
      keyId,
      algorithm: readAlgorithm(entry, 'algorithm', `${prefix}.algorithm`) ?? DEFAULT_STATIC_KEY_ALGORITHM,
    };
  });
}

/** Reads with Config's own type checks; the message always starts with the key. */
function readKey<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const message = (error as Error).message;
    throw new InputError(message.startsWith(`${key}:`) ? message : `${key}: ${message}`);
  }
}
