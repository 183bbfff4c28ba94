import type { JWK } from 'jose';

/** A public JWK with the `kid` and `alg` every listed key carries. */
export type PublicSigningJwk = JWK & { kid: string; alg: string };

/** A public key as listed by a store, with when it was first stored. */
export interface StoredPublicKey {
  key: PublicSigningJwk;
  createdAt: Date;
}

/**
 * Where the public halves of rotating signing keys are published, so that
 * every instance can list every instance's keys. Private keys never go here.
 */
export interface KeyStore {
  addKey(key: PublicSigningJwk): Promise<void>;
  listKeys(): Promise<StoredPublicKey[]>;
  removeKeys(kids: string[]): Promise<void>;
}
