import { createHash } from 'node:crypto';
import type { AuthenticationRequirements } from './authenticationContext';
import { open, seal, sealedVersion } from './crypto/sealedBox';
import { deriveKey, type SecretKey, type SecretKeySource } from './crypto/secretKeys';

/**
 * An authorization request the endpoint has checked (RFC 6749 §4.1.1) and
 * that waits for the user's decision. Until then it exists only inside its
 * handle, on the user's side: a request costs the server no row, so nobody
 * can fill a table, or a client's share of one, for anyone else (issue 25
 * item 1). The decision records it under `id`.
 */
export interface AuthorizationRequest {
  /** Its handle's {@link requestIdOf}: the decided request's row in `oauth_authorization_sessions`. */
  id: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  /** The resource server outside Backstage the request is for (RFC 8707); none means Backstage. */
  resource?: string;
  state?: string;
  nonce?: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  /** The request's decision must come before this. */
  expiresAt: Date;
  /** What the request asks of the user's sign-in (`max_age`, `prompt=login`, `acr_values`); none when nothing. */
  requirements?: AuthenticationRequirements;
}

/**
 * Seals authorization requests into handles — the ids the consent page and
 * the consent API carry (`/oauth2/authorize/:id`, `/v1/sessions/:id`) — and
 * opens them again on any instance of the deployment.
 */
export interface AuthorizationRequestHandles {
  /** A URL-safe handle: encrypted and authenticated, so opaque and tamper-proof; each one unique. */
  seal(request: Omit<AuthorizationRequest, 'id'>): Promise<string>;
  /** The request a handle carries, expired or not; undefined when it is not one of ours. */
  open(handle: string): Promise<AuthorizationRequest | undefined>;
}

/**
 * The id a request is decided under: the SHA-256 of its handle. Every seal
 * draws a fresh IV, so no two handles, and no two requests, share an id; and
 * a handle that opens can only be the one that was sealed.
 */
export function requestIdOf(handle: string): string {
  return createHash('sha256').update(handle, 'utf8').digest('base64url');
}

/** What the handle key is derived for: never the key of anything else. */
const PURPOSE = 'portal-oidc/authorization-request-handle/v1';
/** The packed layout's version, first in every handle's plaintext. */
const LAYOUT = 1;
/** A handle sealed with a key version this instance does not know may mean a new key: read them again, at most this often. */
const FRESH_KEYS_AFTER_MS = 1000;

/** Handles sealed with keys derived from the deployment's shared secret keys; `now` for tests. */
export function createAuthorizationRequestHandles(
  source: SecretKeySource,
  now: () => number = Date.now,
): AuthorizationRequestHandles {
  const derived = new WeakMap<SecretKey, Buffer>();
  const keyOf = (key: SecretKey) => {
    let aes = derived.get(key);
    if (!aes) {
      aes = deriveKey(key.secret, PURPOSE);
      derived.set(key, aes);
    }
    return aes;
  };
  let lastFreshRead = 0;
  const keyOfVersion = async (version: string) => {
    let key = (await source.secretKeys()).find(k => k.version === version);
    if (!key && now() - lastFreshRead >= FRESH_KEYS_AFTER_MS) {
      lastFreshRead = now();
      key = (await source.secretKeys({ fresh: true })).find(k => k.version === version);
    }
    return key && keyOf(key);
  };
  return {
    async seal(request) {
      const [newest] = await source.secretKeys();
      return seal(JSON.stringify(pack(request)), { version: newest.version, key: keyOf(newest) });
    },
    async open(handle) {
      const version = sealedVersion(handle);
      if (version === undefined) return undefined;
      const text = open(handle, await keyOfVersion(version));
      const request = text === undefined ? undefined : unpack(text);
      return request && { id: requestIdOf(handle), ...request };
    },
  };
}

type PackedRequirements = [requestedAtMs: number, promptLogin: 0 | 1, maxAgeSeconds: number | null, acrValues: string | null];
type Packed = [
  layout: typeof LAYOUT,
  clientId: string,
  redirectUri: string,
  scope: string,
  expiresAtMs: number,
  codeChallenge: string,
  codeChallengeMethod: string,
  state: string | null,
  nonce: string | null,
  resource: string | null,
  requirements: PackedRequirements | null,
];

/** A compact array: every byte of a handle is carried in a URL. */
function pack(request: Omit<AuthorizationRequest, 'id'>): Packed {
  const { requirements: r } = request;
  return [
    LAYOUT,
    request.clientId,
    request.redirectUri,
    request.scopes.join(' '),
    request.expiresAt.getTime(),
    request.codeChallenge,
    request.codeChallengeMethod,
    request.state ?? null,
    request.nonce ?? null,
    request.resource ?? null,
    r ? [r.requestedAt.getTime(), r.promptLogin ? 1 : 0, r.maxAgeSeconds ?? null, r.acrValues?.join(' ') ?? null] : null,
  ];
}

/** Only this instance's own seal gets here, but a layout from another version must not be misread. */
function unpack(text: string): Omit<AuthorizationRequest, 'id'> | undefined {
  let packed: unknown;
  try {
    packed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(packed) || packed.length !== 11 || packed[0] !== LAYOUT) return undefined;
  const [, clientId, redirectUri, scope, expiresAtMs, codeChallenge, codeChallengeMethod, state, nonce, resource, r] =
    packed as Packed;
  return {
    clientId,
    redirectUri,
    scopes: scope.split(' ').filter(Boolean),
    ...(resource !== null ? { resource } : {}),
    ...(state !== null ? { state } : {}),
    ...(nonce !== null ? { nonce } : {}),
    codeChallenge,
    codeChallengeMethod,
    expiresAt: new Date(expiresAtMs),
    ...(r
      ? {
          requirements: {
            requestedAt: new Date(r[0]),
            promptLogin: r[1] === 1,
            ...(r[2] !== null ? { maxAgeSeconds: r[2] } : {}),
            ...(r[3] !== null ? { acrValues: r[3].split(' ') } : {}),
          },
        }
      : {}),
  };
}
