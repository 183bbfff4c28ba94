import type { Knex } from 'knex';
import type { KeyStore, PublicSigningJwk, StoredPublicKey } from '../identity/KeyStore';
import { readRows, type NamedStatement } from './namedStatement';
import { parseDbDate } from './parseDbDate';
import { shareFreshRead } from './shareFreshRead';
import type { DbSigningKeyRow } from './tables';

const TABLE = 'signing_keys';
/** `signing_keys.key`: MySQL reserves KEY, though not after a table name. */
const LIST_KEYS: NamedStatement = { name: 'list_signing_keys', sql: `select kid, ${TABLE}.key, created_at from ${TABLE}` };

/** A row's `created_at` as something `===` compares: a Date's milliseconds, or the text. */
/** A row as last read, and what it parsed to. */
interface ParsedRow {
  key: string;
  createdAt: Date | string | number;
  stored: StoredPublicKey;
}

const stamp = (value: DbSigningKeyRow['created_at']) => (value instanceof Date ? value.getTime() : value);

/**
 * Public signing keys in `signing_keys`, shared by every instance on the
 * database. `created_at` is left to the database default so all instances
 * share one clock.
 *
 * The JWKS, and every verification of a token this portal signed, lists the
 * keys: a read per request. Concurrent listings share a read that started
 * after them, so a key another instance published before a request is in
 * that request's answer, while a burst of requests costs a few reads. A row
 * read before with the same key and timestamp is not parsed again.
 */
export class DbSigningKeyStore implements KeyStore {
  readonly #db: Knex;
  readonly #listKeys: () => Promise<StoredPublicKey[]>;
  /** The last read's rows by kid, parsed. */
  #parsed = new Map<string, ParsedRow>();

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
    const rows = await readRows<DbSigningKeyRow>(this.#db, LIST_KEYS, []);
    const parsed = new Map<string, ParsedRow>();
    const keys = rows.map(row => {
      const createdAt = stamp(row.created_at);
      const known = this.#parsed.get(row.kid);
      const stored =
        known && known.key === row.key && known.createdAt === createdAt
          ? known.stored
          : { key: JSON.parse(row.key) as PublicSigningJwk, createdAt: parseDbDate(row.created_at) };
      parsed.set(row.kid, { key: row.key, createdAt, stored });
      return stored;
    });
    this.#parsed = parsed;
    return keys;
  }

  async removeKeys(kids: string[]): Promise<void> {
    if (kids.length === 0) return;
    await this.#db<DbSigningKeyRow>(TABLE).whereIn('kid', kids).delete();
  }
}
