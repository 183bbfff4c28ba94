import type { Knex } from 'knex';

/** The tables cleanup touches; any of them may not exist yet on an old schema. */
export const CLEANUP_TABLES = {
  authorizationSessions: 'oauth_authorization_sessions',
  authorizationCodes: 'oidc_authorization_codes',
  sessionAuthentication: 'oidc_authorization_authentication',
  browserSessions: 'sessions',
  refreshTokens: 'oidc_refresh_tokens',
  deviceCodes: 'oidc_device_codes',
  clients: 'oidc_clients',
  sessionResources: 'oidc_authorization_resources',
  grants: 'oidc_grants',
} as const;

type TableName = (typeof CLEANUP_TABLES)[keyof typeof CLEANUP_TABLES];

/**
 * Deletes rows nobody can use any more, one bounded batch per call, so each
 * statement holds locks on at most `limit` rows and requests never queue
 * behind a long delete. Every method returns the number of rows deleted;
 * fewer than `limit` means the table is clean for now.
 *
 * Batches are chosen with a SELECT … LIMIT and deleted with the same
 * condition re-checked (MySQL cannot DELETE with LIMIT in a subquery).
 */
export class DbCleanupStore {
  readonly #db: Knex;
  readonly #knownTables = new Set<TableName>();

  static create(options: { knex: Knex }): DbCleanupStore {
    return new DbCleanupStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  /** Whether a table exists; a table created by a later migration is found once it lands. */
  async hasTable(table: TableName): Promise<boolean> {
    if (this.#knownTables.has(table)) return true;
    const exists = await this.#db.schema.hasTable(table);
    if (exists) this.#knownTables.add(table);
    return exists;
  }

  /** Codes that expired before `cutoff`, used or not. */
  async deleteExpiredAuthorizationCodes(cutoff: Date, limit: number): Promise<number> {
    const table = CLEANUP_TABLES.authorizationCodes;
    const codes = await this.#db(table).where('expires_at', '<', cutoff).limit(limit).pluck('code');
    if (codes.length === 0) return 0;
    return this.#db(table).whereIn('code', codes).andWhere('expires_at', '<', cutoff).delete();
  }

  /**
   * Authorization sessions that expired before `cutoff`, with their codes
   * and authentication records first (foreign keys are not enforced on SQLite). The clients of
   * approved sessions are marked as used before the evidence goes; a session
   * nobody approved proves nothing (anyone can start one), so a client known
   * only from such sessions stays unused and is deleted in time.
   */
  async deleteExpiredAuthorizationSessions(
    now: Date,
    cutoff: Date,
    limit: number,
  ): Promise<number> {
    const table = CLEANUP_TABLES.authorizationSessions;
    const rows: Array<{ id: string; client_id: string; status: string | null }> = await this.#db(
      table,
    )
      .where('expires_at', '<', cutoff)
      .limit(limit)
      .select('id', 'client_id', 'status');
    if (rows.length === 0) return 0;
    await this.#markClientsUsed(
      rows.filter(r => r.status === 'approved').map(r => r.client_id),
      now,
    );
    const ids = rows.map(r => r.id);
    for (const child of [
      CLEANUP_TABLES.authorizationCodes,
      CLEANUP_TABLES.sessionResources,
      CLEANUP_TABLES.sessionAuthentication,
    ]) {
      if (await this.hasTable(child)) {
        await this.#db(child).whereIn('session_id', ids).delete();
      }
    }
    return this.#db(table).whereIn('id', ids).andWhere('expires_at', '<', cutoff).delete();
  }

  /** express-session records (connect-session-knex) past their `expired` time. */
  async deleteExpiredBrowserSessions(now: Date, limit: number): Promise<number> {
    const table = CLEANUP_TABLES.browserSessions;
    const isExpired = (q: Knex.QueryBuilder) =>
      // connect-session-knex writes ISO strings on SQLite; compare as datetimes there.
      this.#db.client.dialect === 'sqlite3'
        ? q.whereRaw('datetime(expired) < datetime(?)', [now.toISOString()])
        : q.where('expired', '<', now);
    const sids = await isExpired(this.#db(table)).limit(limit).pluck('sid');
    if (sids.length === 0) return 0;
    return isExpired(this.#db(table).whereIn('sid', sids)).delete();
  }

  /**
   * Refresh tokens that can never be used nor tell us anything again: the
   * family's absolute lifetime ended, or the token is revoked or an idle-expired
   * leaf, or it is a rotated ancestor whose family has no live token left.
   * Rotated ancestors of a live family stay: presenting one is how reuse is
   * detected (RFC 9700 §4.14.2).
   */
  async deleteDeadRefreshTokens(now: Date, cutoff: Date, limit: number): Promise<number> {
    const table = CLEANUP_TABLES.refreshTokens;
    const isDead = (q: Knex.QueryBuilder) =>
      q.where(dead =>
        dead
          .where('family_expires_at', '<', cutoff)
          .orWhere(q2 => q2.whereIn('status', ['active', 'revoked']).andWhere('expires_at', '<', cutoff))
          .orWhere(q2 =>
            q2
              .where('status', 'rotated')
              .andWhere('expires_at', '<', cutoff)
              .whereNotExists(
                this.#db(`${table} as live`)
                  .select(this.#db.raw('1'))
                  .whereRaw(`live.family_id = ${table}.family_id`)
                  .andWhere('live.status', 'active')
                  .andWhere('live.expires_at', '>=', now),
              ),
          ),
      );
    const hashes = await isDead(this.#db(table)).limit(limit).pluck('token_hash');
    if (hashes.length === 0) return 0;
    // Deadness is permanent (time only moves on, statuses never return to
    // active), so the batch can go by key; MySQL would also refuse a DELETE
    // whose subquery reads the same table.
    return this.#db(table).whereIn('token_hash', hashes).delete();
  }

  /**
   * Grants no token of which can be valid any more (`expires_at`, a
   * revocation's lifetime included) before `cutoff`.
   */
  async deleteExpiredGrants(cutoff: Date, limit: number): Promise<number> {
    const table = CLEANUP_TABLES.grants;
    const ids = await this.#db(table).where('expires_at', '<', cutoff).limit(limit).pluck('id');
    if (ids.length === 0) return 0;
    return this.#db(table).whereIn('id', ids).andWhere('expires_at', '<', cutoff).delete();
  }

  /** Device authorization requests that expired before `cutoff`, whatever their state. */
  async deleteExpiredDeviceCodes(now: Date, cutoff: Date, limit: number): Promise<number> {
    const table = CLEANUP_TABLES.deviceCodes;
    const rows: Array<{ device_code_hash: string; client_id: string; status: string }> =
      await this.#db(table)
        .where('expires_at', '<', cutoff)
        .limit(limit)
        .select('device_code_hash', 'client_id', 'status');
    if (rows.length === 0) return 0;
    await this.#markClientsUsed(
      rows.filter(r => r.status !== 'pending').map(r => r.client_id),
      now,
    );
    return this.#db(table)
      .whereIn('device_code_hash', rows.map(r => r.device_code_hash))
      .andWhere('expires_at', '<', cutoff)
      .delete();
  }

  /**
   * Dynamically registered clients (RFC 7591) registered before
   * `registeredBefore` that were never used: no authorization session,
   * refresh token or device code refers to them and cleanup never marked them
   * used. Clients from config, metadata documents, or upstream rows without
   * a registration time are never deleted. Scans `limit` clients after
   * `afterClientId`; returns how many were deleted and where to continue.
   */
  async deleteUnusedDynamicClients(
    registeredBefore: Date,
    limit: number,
    afterClientId = '',
  ): Promise<{ deleted: number; scanned: number; lastClientId?: string }> {
    const table = CLEANUP_TABLES.clients;
    const rows: Array<{ client_id: string; metadata: string | null }> = await this.#db(table)
      .where('client_id', '>', afterClientId)
      .orderBy('client_id')
      .limit(limit)
      .select('client_id', 'metadata');
    const issuedBefore = Math.floor(registeredBefore.getTime() / 1000);
    let deleted = 0;
    for (const row of rows) {
      const metadata = parseMetadata(row.metadata);
      const issuedAt = metadata?.registration?.client_id_issued_at;
      if (metadata?.kind !== 'dynamic' || metadata.lastUsedAt) continue;
      if (typeof issuedAt !== 'number' || issuedAt >= issuedBefore) continue;
      let query = this.#db(table).where({ client_id: row.client_id, metadata: row.metadata });
      // Re-checked inside the DELETE, so a flow decided meanwhile keeps its client. (A request
      // still waiting in its handle leaves no row: a client never used in 30 days may go before
      // it is decided, and its code is then refused as a code of an unknown client.)
      for (const referencing of [
        CLEANUP_TABLES.authorizationSessions,
        CLEANUP_TABLES.refreshTokens,
        CLEANUP_TABLES.deviceCodes,
      ]) {
        if (!(await this.hasTable(referencing))) continue;
        query = query.whereNotExists(
          this.#db(referencing).select(this.#db.raw('1')).where('client_id', row.client_id),
        );
      }
      deleted += await query.delete();
    }
    return { deleted, scanned: rows.length, lastClientId: rows.at(-1)?.client_id };
  }

  /**
   * Records in a dynamic client's metadata JSON that it was used, so that
   * deleting its expired sessions does not make it look never used. The
   * write is a compare-and-set on the old JSON.
   */
  async #markClientsUsed(clientIds: string[], now: Date): Promise<void> {
    const unique = [...new Set(clientIds)];
    if (unique.length === 0 || !(await this.hasTable(CLEANUP_TABLES.clients))) return;
    const rows: Array<{ client_id: string; metadata: string | null }> = await this.#db(
      CLEANUP_TABLES.clients,
    )
      .whereIn('client_id', unique)
      .select('client_id', 'metadata');
    for (const row of rows) {
      const metadata = parseMetadata(row.metadata);
      if (!metadata || metadata.kind !== 'dynamic' || metadata.lastUsedAt) continue;
      await this.#db(CLEANUP_TABLES.clients)
        .where({ client_id: row.client_id, metadata: row.metadata })
        .update({ metadata: JSON.stringify({ ...metadata, lastUsedAt: now.toISOString() }) });
    }
  }
}

interface ClientMetadataJson {
  kind?: string;
  lastUsedAt?: string;
  registration?: { client_id_issued_at?: unknown };
  [key: string]: unknown;
}

function parseMetadata(value: string | null): ClientMetadataJson | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value);
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
