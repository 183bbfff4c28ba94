import type { Knex } from 'knex';

/**
 * `offline_sessions`, created by upstream's `20251020000000_offline_sessions.js`
 * (0.27 – 0.31): one row per refresh token upstream issued, with a scrypt
 * hash. We never create it and never accept its tokens; it exists only in a
 * database adopted from upstream.
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
export class DbUpstreamOfflineSessionStore {
  readonly #db: Knex;

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
    // Checked on every call: a revocation is rare, and the table's presence
    // depends on the database's history, not on this plugin.
    if (!(await this.#db.schema.hasTable(TABLE))) return 0;
    return this.#db<DbUpstreamOfflineSessionRow>(TABLE)
      .whereRaw('lower(user_entity_ref) = ?', [userEntityRef.toLowerCase()])
      .delete();
  }
}
