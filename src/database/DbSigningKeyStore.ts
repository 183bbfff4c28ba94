import type { Knex } from 'knex';
import type { KeyStore, PublicSigningJwk, StoredPublicKey } from '../identity/KeyStore';
import { parseDbDate } from './parseDbDate';
import { shareFreshRead } from './shareFreshRead';
import type { DbSigningKeyRow } from './tables';

const TABLE = 'signing_keys';

/**
 * Public signing keys in `signing_keys`, shared by every instance on the
 * database. `created_at` is left to the database default so all instances
 * share one clock.
 *
 * The JWKS, and every verification of a token this portal signed, lists the
 * keys: a read per request. Concurrent listings share a read that started
 * after them, so a key another instance published before a request is in
 * that request's answer, while a burst of requests costs a few reads.
 */
export class DbSigningKeyStore implements KeyStore {
  readonly #db: Knex;
  readonly #listKeys: () => Promise<StoredPublicKey[]>;

  static create(options: { knex: Knex }): DbSigningKeyStore {
    return new DbSigningKeyStore(options.knex);
  }

  private constructor(knex: Knex) {
    this.#db = knex;
    this.#listKeys = shareFreshRead(() => this.#readKeys());
  }

  async addKey(key: PublicSigningJwk): Promise<void> {
    await this.#db<DbSigningKeyRow>(TABLE).insert({ kid: key.kid, key: JSON.stringify(key) });
  }

  /** The stored keys; callers must not modify what they get, as concurrent callers share it. */
  listKeys(): Promise<StoredPublicKey[]> {
    return this.#listKeys();
  }

  async #readKeys(): Promise<StoredPublicKey[]> {
    const rows = await this.#db<DbSigningKeyRow>(TABLE).select('kid', 'key', 'created_at');
    return rows.map(row => ({
      key: JSON.parse(row.key) as PublicSigningJwk,
      createdAt: parseDbDate(row.created_at),
    }));
  }

  async removeKeys(kids: string[]): Promise<void> {
    if (kids.length === 0) return;
    await this.#db<DbSigningKeyRow>(TABLE).whereIn('kid', kids).delete();
  }
}
