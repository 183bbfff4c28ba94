import type { KeyStore, PublicSigningJwk, StoredPublicKey } from './KeyStore';

/** Keys of this process only; for single-instance and test setups. */
export class MemoryKeyStore implements KeyStore {
  readonly #keys = new Map<string, StoredPublicKey>();
  readonly #now: () => number;

  static create(options: { now?: () => number } = {}): MemoryKeyStore {
    return new MemoryKeyStore(options.now ?? Date.now);
  }

  private constructor(now: () => number) {
    this.#now = now;
  }

  async addKey(key: PublicSigningJwk): Promise<void> {
    this.#keys.set(key.kid, { key, createdAt: new Date(this.#now()) });
  }

  async listKeys(): Promise<StoredPublicKey[]> {
    return [...this.#keys.values()];
  }

  async removeKeys(kids: string[]): Promise<void> {
    for (const kid of kids) this.#keys.delete(kid);
  }
}
