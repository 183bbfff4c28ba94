import { randomBytes } from 'node:crypto';
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import type { SecretKey, SecretKeySource } from '../oauth/crypto/secretKeys';
import type { Clock } from '../oauth/model';
import { parseDbDate } from './parseDbDate';
import { shareFreshRead } from './shareFreshRead';

/** `oidc_device_code_keys`: the deployment's shared secret keys (first made for user codes). */
export interface DbSecretKeyRow {
  key_version: string;
  secret: string;
  created_at: Date | string | number;
}

export const SECRET_KEYS_TABLE = 'oidc_device_code_keys';

/**
 * The key version new instances agree on. The first instance to start
 * inserts a random key under it; the others read that row, so all instances
 * share it without any configured secret. Rotating means inserting a newer
 * version: it protects new values, older ones still resolve.
 */
const INITIAL_KEY_VERSION = 'v1';
/** Keys are re-read this often, so a rotation reaches every instance. */
const KEY_CACHE_MS = 60_000;
/** After a failed re-read, the keys in hand serve this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 5_000;

/**
 * The secret keys every instance of a deployment shares, kept in the
 * database: user codes are hashed with them, and authorization requests
 * sealed with keys derived from them.
 */
export class DbSecretKeyRing implements SecretKeySource {
  readonly #db: Knex;
  readonly #clock: Clock;
  readonly #logger?: LoggerService;
  #cached?: { loadedAt: number; keys: SecretKey[] };
  /** Whether the keys in hand were kept through a failed read, already logged. */
  #stale = false;
  /** Callers arriving while the keys are read share that read. */
  readonly #read = shareFreshRead(() => this.#load(this.#clock().getTime()));

  /** `logger`: where a failed re-read is reported (once), while the keys in hand are kept. */
  static create(options: { knex: Knex; clock?: Clock; logger?: LoggerService }): DbSecretKeyRing {
    return new DbSecretKeyRing(options.knex, options.clock ?? (() => new Date()), options.logger);
  }

  private constructor(db: Knex, clock: Clock, logger?: LoggerService) {
    this.#db = db;
    this.#clock = clock;
    this.#logger = logger;
  }

  async secretKeys(options: { fresh?: boolean } = {}): Promise<SecretKey[]> {
    const now = this.#clock().getTime();
    const cached = this.#cached;
    if (!options.fresh && cached && now - cached.loadedAt < KEY_CACHE_MS) return cached.keys;
    try {
      const keys = await this.#read();
      this.#stale = false;
      return keys;
    } catch (error) {
      // Keys are only ever added: the ones in hand stay good while the
      // database is away, so sealing and opening go on (reported once).
      if (!cached) throw error;
      if (!this.#stale) this.#logger?.warn(`Could not re-read the shared secret keys; using those in hand: ${error}`);
      this.#stale = true;
      this.#cached = { loadedAt: now - KEY_CACHE_MS + RETRY_AFTER_FAILURE_MS, keys: cached.keys };
      return cached.keys;
    }
  }

  async #load(now: number): Promise<SecretKey[]> {
    let rows = await this.#readKeys();
    if (rows.length === 0) {
      await this.#db<DbSecretKeyRow>(SECRET_KEYS_TABLE)
        .insert({
          key_version: INITIAL_KEY_VERSION,
          secret: randomBytes(32).toString('base64url'),
          created_at: new Date(now),
        })
        .onConflict('key_version')
        .ignore();
      rows = await this.#readKeys();
    }
    const keys = rows.map(row => ({ version: row.key_version, secret: Buffer.from(row.secret, 'base64url') }));
    this.#cached = { loadedAt: now, keys };
    return keys;
  }

  async #readKeys(): Promise<DbSecretKeyRow[]> {
    const rows = await this.#db<DbSecretKeyRow>(SECRET_KEYS_TABLE).select();
    // Newest first: it protects new values.
    return rows.sort((a, b) => parseDbDate(b.created_at).getTime() - parseDbDate(a.created_at).getTime());
  }
}
