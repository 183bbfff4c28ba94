import type { Knex } from 'knex';
import type {
  GrantRevocation,
  RefreshTokenRecord,
  RefreshTokenStatus,
  RefreshTokenStore,
  RotationOutcome,
} from '../oauth/stores';
import { fromAuthenticationColumns, toAuthenticationColumns } from './authenticationColumns';
import { type DbGrantRow, GRANTS_TABLE, lockGrant, laterOf } from './grants';
import { parseDbDate } from './parseDbDate';
import { LITERAL_LIMIT } from './literalLimit';
import { readFirst, type NamedStatement } from './namedStatement';

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

/** The columns a successor is inserted with, in {@link ROTATE}'s order. */
const SUCCESSOR_COLUMNS = [
  'token_hash',
  'family_id',
  'client_id',
  'user_entity_ref',
  'scope',
  'resource',
  'status',
  'auth_time',
  'acr',
  'amr',
  'created_at',
  'expires_at',
  'family_expires_at',
] as const satisfies ReadonlyArray<keyof DbRefreshTokenRow>;

/**
 * PostgreSQL's rotation (see `rotate`) as one statement: take the grant's
 * row (locked until the statement commits; a revocation holding it makes
 * this wait, and then find it revoked) — recording it if a family an older
 * version started has none — compare-and-set the parent, insert the
 * successor. Each step reads the one before, so none runs without it.
 */
const ROTATE: NamedStatement = {
  name: 'rotate_refresh_token',
  sql: `with g as (
          insert into ${GRANTS_TABLE} (id, client_id, user_entity_ref, created_at, last_used_at, revoked_at, expires_at)
          values (?, ?, ?, ?, ?, null, ?)
          on conflict (id) do update set last_used_at = excluded.last_used_at
          where ${GRANTS_TABLE}.revoked_at is null
          returning id
        ), p as (
          update ${TABLE} set status = 'rotated'
          where token_hash = ? and status = 'active' and expires_at > ? and family_expires_at > ?
            and exists (select 1 from g)
          returning family_id
        ), s as (
          insert into ${TABLE} (${SUCCESSOR_COLUMNS.join(', ')})
          select ${SUCCESSOR_COLUMNS.map(() => '?').join(', ')} from p
        )
        select exists (select 1 from g) as grant_live, exists (select 1 from p) as rotated`,
};

/**
 * Refresh tokens and their rotation families in the plugin database. Every
 * family belongs to a grant (`oidc_grants`), whose row is the family's lock:
 * rotating takes it and finds the grant not revoked, revoking takes it first
 * and then revokes the tokens, so the two never pass each other (issue 25
 * item 3), on PostgreSQL's READ COMMITTED as much as anywhere.
 */
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
    options: { maxActivePerUser: number; grantExpiresAt: Date },
  ): Promise<boolean> {
    return this.#db.transaction(async trx => {
      await lockGrant(trx, {
        id: record.familyId,
        client_id: record.clientId,
        user_entity_ref: record.userEntityRef,
        created_at: record.createdAt,
        revoked_at: null,
        expires_at: options.grantExpiresAt,
      });
      // Taken in the grant's row: a replayed code that revoked the grant
      // first is seen here, and one that comes later waits for this token.
      const live = await trx(GRANTS_TABLE)
        .where({ id: record.familyId })
        .whereNull('revoked_at')
        .update({ last_used_at: record.createdAt, expires_at: laterOf(trx, options.grantExpiresAt) });
      if (live !== 1) return false;
      await this.#revokeBeyondCap(trx, record.userEntityRef, record.createdAt, options.maxActivePerUser - 1);
      await trx<DbRefreshTokenRow>(TABLE).insert(this.#toRow(record));
      return true;
    });
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
    { now, grantExpiresAt }: { now: Date; grantExpiresAt: Date },
  ): Promise<RotationOutcome> {
    const row = this.#toRow(successor);
    const grant: DbGrantRow = {
      id: successor.familyId,
      client_id: successor.clientId,
      user_entity_ref: successor.userEntityRef,
      created_at: now,
      last_used_at: now,
      revoked_at: null,
      expires_at: grantExpiresAt,
    };
    if (this.#db.client.dialect === 'postgresql') {
      const result = await readFirst<{ grant_live: boolean; rotated: boolean }>(this.#db, ROTATE, [
        grant.id,
        grant.client_id,
        grant.user_entity_ref,
        now,
        now,
        grantExpiresAt,
        parentHash,
        now,
        now,
        ...SUCCESSOR_COLUMNS.map(column => row[column] ?? null),
      ]);
      if (!result?.grant_live) return 'revoked';
      return result.rotated ? 'rotated' : 'stale';
    }
    return this.#db.transaction(async trx => {
      await lockGrant(trx, grant);
      const live = await trx(GRANTS_TABLE)
        .where({ id: successor.familyId })
        .whereNull('revoked_at')
        .update({ last_used_at: now });
      if (live !== 1) return 'revoked';
      // Compare-and-set on the parent: of two racing rotations one wins; the
      // loser sees a rotated token, which the grant treats as reuse.
      const changed = await trx<DbRefreshTokenRow>(TABLE)
        .where({ token_hash: parentHash, status: 'active' })
        .andWhere('expires_at', '>', now)
        .andWhere('family_expires_at', '>', now)
        .update({ status: 'rotated' });
      if (changed !== 1) return 'stale';
      await trx<DbRefreshTokenRow>(TABLE).insert(row);
      return 'rotated';
    });
  }

  async revokeGrant(grant: GrantRevocation): Promise<number> {
    return this.#db.transaction(async (trx): Promise<number> => {
      await lockGrant(trx, {
        id: grant.id,
        client_id: grant.clientId,
        user_entity_ref: grant.userEntityRef,
        created_at: grant.now,
        revoked_at: grant.now,
        expires_at: grant.keepUntil,
      });
      // The grant's row first: a rotation under way holds it, and this
      // waits for it to commit, so the statement below sees its token.
      await trx(GRANTS_TABLE)
        .where({ id: grant.id })
        .update({ revoked_at: trx.raw('coalesce(revoked_at, ?)', [grant.now]), expires_at: laterOf(trx, grant.keepUntil) });
      // Rotated tokens are already unusable; presenting one still counts as reuse.
      return Number(
        await trx<DbRefreshTokenRow>(TABLE).where({ family_id: grant.id, status: 'active' }).update({ status: 'revoked' }),
      );
    });
  }

  async revokeAllForUser(userEntityRef: string, now: Date): Promise<number> {
    // Refs are compared in lower case: rows stored before sign-in made refs
    // canonical (issue 13) may say `User:default/Jane`, and revoking a user
    // must not miss them. It scans, but it runs rarely.
    const ofUser = (query: Knex.QueryBuilder) => query.whereRaw('lower(user_entity_ref) = ?', [userEntityRef.toLowerCase()]);
    return this.#db.transaction(async (trx): Promise<number> => {
      await ofUser(trx(GRANTS_TABLE)).update({ revoked_at: trx.raw('coalesce(revoked_at, ?)', [now]) });
      return Number(await ofUser(trx<DbRefreshTokenRow>(TABLE)).andWhere({ status: 'active' }).update({ status: 'revoked' }));
    });
  }

  async recordGrant(grant: {
    id: string;
    clientId: string;
    userEntityRef: string;
    now: Date;
    expiresAt: Date;
  }): Promise<void> {
    await lockGrant(this.#db, {
      id: grant.id,
      client_id: grant.clientId,
      user_entity_ref: grant.userEntityRef,
      created_at: grant.now,
      revoked_at: null,
      expires_at: grant.expiresAt,
    });
  }

  async isGrantRevoked(grantId: string): Promise<boolean> {
    const row = await this.#db(GRANTS_TABLE)
      .where({ id: grantId })
      .whereNotNull('revoked_at')
      .first('id')
      .limit(1, LITERAL_LIMIT);
    return row !== undefined;
  }

  /** Revokes the user's oldest live families, and their grants, so that at most `keep` remain. */
  async #revokeBeyondCap(trx: Knex.Transaction, userEntityRef: string, now: Date, keep: number): Promise<void> {
    const live = await trx<DbRefreshTokenRow>(TABLE)
      .where({ user_entity_ref: userEntityRef, status: 'active' })
      .andWhere('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .select('family_id');
    const excess = live.slice(Math.max(keep, 0)).map(row => row.family_id);
    if (excess.length === 0) return;
    await trx(GRANTS_TABLE).whereIn('id', excess).update({ revoked_at: trx.raw('coalesce(revoked_at, ?)', [now]) });
    await trx<DbRefreshTokenRow>(TABLE).whereIn('family_id', excess).update({ status: 'revoked' });
  }

  #toRow(record: Omit<RefreshTokenRecord, 'status'>): DbRefreshTokenRow {
    return {
      token_hash: record.tokenHash,
      family_id: record.familyId,
      client_id: record.clientId,
      user_entity_ref: record.userEntityRef,
      scope: record.scopes.join(' '),
      resource: record.resource ?? null,
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
