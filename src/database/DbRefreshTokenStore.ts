import type { Knex } from 'knex';
import type {
  RefreshTokenRecord,
  RefreshTokenStatus,
  RefreshTokenStore,
} from '../oauth/stores';
import { SESSIONS_TABLE } from './DbAuthorizationSessionStore';
import { fromAuthenticationColumns, toAuthenticationColumns } from './authenticationColumns';
import { parseDbDate } from './parseDbDate';
import { LITERAL_LIMIT } from './literalLimit';

/** `oidc_refresh_tokens`: `token_hash` is the SHA-256 of the token, never the token. */
export interface DbRefreshTokenRow {
  token_hash: string;
  family_id: string;
  client_id: string;
  user_entity_ref: string;
  /** Space-separated scopes. */
  scope: string | null;
  resource?: string | null;
  status: RefreshTokenStatus;
  auth_time: Date | string | number;
  /** How the user authenticated (issue 14); null in rows from before it. */
  acr: string | null;
  /** JSON array of method names. */
  amr: string | null;
  created_at: Date | string | number;
  expires_at: Date | string | number;
  family_expires_at: Date | string | number;
}

const TABLE = 'oidc_refresh_tokens';

/** Refresh tokens and their rotation families in the plugin database. */
export class DbRefreshTokenStore implements RefreshTokenStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbRefreshTokenStore {
    return new DbRefreshTokenStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  async issue(
    record: Omit<RefreshTokenRecord, 'status'>,
    options: { maxActivePerUser: number },
  ): Promise<void> {
    await this.#revokeBeyondCap(record.userEntityRef, record.createdAt, options.maxActivePerUser - 1);
    await this.#db<DbRefreshTokenRow>(TABLE).insert(this.#toRow(record));
  }

  async find(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const row = await this.#db<DbRefreshTokenRow>(TABLE)
      .where({ token_hash: tokenHash })
      .first()
      .limit(1, LITERAL_LIMIT);
    return row ? this.#fromRow(row) : undefined;
  }

  async rotate(
    parentHash: string,
    successor: Omit<RefreshTokenRecord, 'status'>,
    now: Date,
  ): Promise<boolean> {
    return this.#db.transaction(async trx => {
      // Compare-and-set on the parent: of two racing rotations one wins; the
      // loser sees a rotated token, which the grant treats as reuse.
      const changed = await trx<DbRefreshTokenRow>(TABLE)
        .where({ token_hash: parentHash, status: 'active' })
        .andWhere('expires_at', '>', now)
        .andWhere('family_expires_at', '>', now)
        .update({ status: 'rotated' });
      if (changed !== 1) return false;
      await trx<DbRefreshTokenRow>(TABLE).insert(this.#toRow(successor));
      return true;
    });
  }

  async revokeFamily(familyId: string): Promise<number> {
    // Rotated tokens are already unusable; presenting one still counts as reuse.
    return this.#db<DbRefreshTokenRow>(TABLE)
      .where({ family_id: familyId, status: 'active' })
      .update({ status: 'revoked' });
  }

  async revokeAllForUser(userEntityRef: string): Promise<number> {
    // One statement. Refs are compared in lower case: rows stored before
    // sign-in made refs canonical (issue 13) may say `User:default/Jane`, and
    // revoking a user must not miss them. It scans, but it runs rarely.
    return this.#db<DbRefreshTokenRow>(TABLE)
      .whereRaw('lower(user_entity_ref) = ?', [userEntityRef.toLowerCase()])
      .andWhere({ status: 'active' })
      .update({ status: 'revoked' });
  }

  async isFamilyRevoked(familyId: string): Promise<boolean> {
    const row = await this.#db<DbRefreshTokenRow>(TABLE)
      .where({ family_id: familyId, status: 'revoked' })
      .first('token_hash')
      .limit(1, LITERAL_LIMIT);
    return row !== undefined;
  }

  async revokeFamilyIfGrantRevoked(familyId: string, sessionId: string): Promise<number> {
    // One statement: the session's status is read when the update runs, so
    // a revocation that committed before it is always seen.
    return this.#db<DbRefreshTokenRow>(TABLE)
      .where({ family_id: familyId, status: 'active' })
      .whereExists(
        this.#db(SESSIONS_TABLE)
          .select(this.#db.raw('1'))
          .where({ id: sessionId })
          .whereNot('status', 'approved'),
      )
      .update({ status: 'revoked' });
  }

  /** Revokes the user's oldest live families so that at most `keep` remain. */
  async #revokeBeyondCap(userEntityRef: string, now: Date, keep: number): Promise<void> {
    const live = await this.#db<DbRefreshTokenRow>(TABLE)
      .where({ user_entity_ref: userEntityRef, status: 'active' })
      .andWhere('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .select('family_id');
    const excess = live.slice(Math.max(keep, 0)).map(row => row.family_id);
    if (excess.length > 0) {
      await this.#db<DbRefreshTokenRow>(TABLE)
        .whereIn('family_id', excess)
        .update({ status: 'revoked' });
    }
  }

  #toRow(record: Omit<RefreshTokenRecord, 'status'>): DbRefreshTokenRow {
    return {
      token_hash: record.tokenHash,
      family_id: record.familyId,
      client_id: record.clientId,
      user_entity_ref: record.userEntityRef,
      scope: record.scopes.join(' '),
      ...(record.resource ? { resource: record.resource } : {}),
      status: 'active',
      ...toAuthenticationColumns(record),
      auth_time: record.authTime,
      created_at: record.createdAt,
      expires_at: record.expiresAt,
      family_expires_at: record.familyExpiresAt,
    };
  }

  #fromRow(row: DbRefreshTokenRow): RefreshTokenRecord {
    return {
      tokenHash: row.token_hash,
      familyId: row.family_id,
      clientId: row.client_id,
      userEntityRef: row.user_entity_ref,
      scopes: row.scope ? row.scope.split(' ').filter(Boolean) : [],
      ...(row.resource ? { resource: row.resource } : {}),
      status: row.status,
      ...fromAuthenticationColumns(row),
      authTime: parseDbDate(row.auth_time),
      createdAt: parseDbDate(row.created_at),
      expiresAt: parseDbDate(row.expires_at),
      familyExpiresAt: parseDbDate(row.family_expires_at),
    };
  }
}
