import type { Knex } from 'knex';
import type { UpstreamRefreshTokenRecord, UpstreamRefreshTokenStore } from '../oauth/stores';
import { LITERAL_LIMIT } from './literalLimit';
import { parseDbDate } from './parseDbDate';

/**
 * `offline_sessions`, created by upstream's `20251020000000_offline_sessions.js`
 * (0.27 – 0.31): one row per refresh token upstream issued, with a scrypt
 * hash. We never create it; it exists only in a database adopted from
 * upstream, whose tokens are honoured once and then rotated into ours.
 */
export interface DbUpstreamOfflineSessionRow {
  id: string;
  user_entity_ref: string;
  oidc_client_id: string | null;
  token_hash: string;
  created_at: Date | string;
  last_used_at: Date | string;
}

const TABLE = 'offline_sessions';

/**
 * Upstream's refresh tokens in an adopted database. Revoking a user's
 * offline sessions (issue 13) deletes theirs too, so nothing upstream issued
 * outlives a revocation should the database go back to upstream.
 */
export class DbUpstreamOfflineSessionStore implements UpstreamRefreshTokenStore {
  readonly #db: Knex;
  /** Whether the table exists; it only appears by upstream's migration, so once known it stays. */
  #hasTable?: Promise<boolean>;

  static create(options: { knex: Knex }): DbUpstreamOfflineSessionStore {
    return new DbUpstreamOfflineSessionStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  /**
   * Deletes the user's rows; 0 when the table does not exist. Refs compare
   * in lower case, as in {@link DbRefreshTokenStore.revokeAllForUser}.
   */
  async deleteForUser(userEntityRef: string): Promise<number> {
    if (!(await this.#tableExists())) return 0;
    return this.#db<DbUpstreamOfflineSessionRow>(TABLE)
      .whereRaw('lower(user_entity_ref) = ?', [userEntityRef.toLowerCase()])
      .delete();
  }

  async find(id: string): Promise<UpstreamRefreshTokenRecord | undefined> {
    if (!(await this.#tableExists())) return undefined;
    const row = await this.#db<DbUpstreamOfflineSessionRow>(TABLE)
      .where({ id })
      .first()
      .limit(1, LITERAL_LIMIT);
    if (!row) return undefined;
    return {
      id: row.id,
      userEntityRef: row.user_entity_ref,
      clientId: row.oidc_client_id,
      tokenHash: row.token_hash,
      createdAt: parseDbDate(row.created_at),
      lastUsedAt: parseDbDate(row.last_used_at),
    };
  }

  async consume(id: string, tokenHash: string): Promise<boolean> {
    if (!(await this.#tableExists())) return false;
    // Compare-and-delete: of two requests presenting the token, one wins.
    const deleted = await this.#db<DbUpstreamOfflineSessionRow>(TABLE)
      .where({ id, token_hash: tokenHash })
      .delete();
    return deleted === 1;
  }

  #tableExists(): Promise<boolean> {
    this.#hasTable ??= this.#db.schema.hasTable(TABLE).then(exists => {
      // Not there yet may still change if migrations run later; look again next time.
      if (!exists) this.#hasTable = undefined;
      return exists;
    });
    return this.#hasTable;
  }
}
