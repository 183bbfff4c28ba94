import type { KeyObject } from 'node:crypto';
import type { PublicSigningJwk } from './KeyStore';

/** The private key tokens are signed with right now, with its `kid` and `alg`. */
export interface SigningKey {
  kid: string;
  alg: string;
  /** A Node KeyObject, converted once from what jose generates or imports (a CryptoKey). */
  privateKey: KeyObject;
}

/**
 * The signing side of a key store: which key signs now, and every public key
 * a still-valid token may have been signed with (the JWKS).
 */
export interface SigningKeys {
  readonly algorithm: string;
  currentKey(): Promise<SigningKey>;
  listPublicKeys(): Promise<PublicSigningJwk[]>;
}
