import type { KeyLike } from 'jose';
import type { PublicSigningJwk } from './KeyStore';

/** The private key tokens are signed with right now, with its `kid` and `alg`. */
export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyLike;
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
