import type { Knex } from 'knex';
import type { AuthorizationSession, AuthorizationSessionStore } from '../oauth/stores';
import { parseDbDate } from './parseDbDate';
import { LITERAL_LIMIT } from './literalLimit';
import { coalesceWrites } from './coalesceWrites';
import { readFirst, runStatement, type NamedStatement } from './namedStatement';

/** `oauth_authorization_sessions`: one row per authorization request (upstream's table). */
export interface DbAuthorizationSessionRow {
  id: string;
  client_id: string;
  user_entity_ref: string | null;
  redirect_uri: string;
  /** Space-separated scopes. */
  scope: string | null;
  state: string | null;
  response_type: string;
  code_challenge: string | null;
  code_challenge_method: string | null;
  nonce: string | null;
  status: AuthorizationSession['status'] | null;
  expires_at: Date | string | number;
  /** From `oidc_authorization_resources`, when read joined. */
  resource?: string | null;
}

export const SESSIONS_TABLE = 'oauth_authorization_sessions';
/** The resource a session asked for, beside upstream's table (RFC 8707). */
export const SESSION_RESOURCES_TABLE = 'oidc_authorization_resources';

/** A new, undecided session: the authorization endpoint's one statement. */
const INSERT_SESSION: NamedStatement = {
  name: 'insert_session',
  sql: `insert into ${SESSIONS_TABLE}
          (id, client_id, user_entity_ref, redirect_uri, scope, state, response_type,
           code_challenge, code_challenge_method, nonce, status, expires_at)
        values (?, ?, null, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
};

/**
 * PostgreSQL: any number of new sessions in one statement, one array per
 * column (the columns' order of {@link INSERT_SESSION}'s values), so the text
 * and its prepared statement are the same for every batch size.
 */
const INSERT_SESSIONS: NamedStatement = {
  name: 'insert_sessions',
  sql: `insert into ${SESSIONS_TABLE}
          (id, client_id, user_entity_ref, redirect_uri, scope, state, response_type,
           code_challenge, code_challenge_method, nonce, status, expires_at)
        select id, client_id, null, redirect_uri, scope, state, response_type,
               code_challenge, code_challenge_method, nonce, 'pending', expires_at
        from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                    ?::text[], ?::text[], ?::text[], ?::timestamptz[])
          as t(id, client_id, redirect_uri, scope, state, response_type,
               code_challenge, code_challenge_method, nonce, expires_at)`,
};

/** Sessions written together at most (PostgreSQL). */
const MAX_SESSIONS_PER_INSERT = 64;

type NewSession = Omit<AuthorizationSession, 'status' | 'userEntityRef'>;

/** A new session's values, in the order of {@link INSERT_SESSION}'s placeholders. */
function insertValues(session: NewSession): Knex.Value[] {
  return [
    session.id,
    session.clientId,
    session.redirectUri,
    session.scopes.join(' '),
    session.state ?? null,
    session.responseType,
    session.codeChallenge ?? null,
    session.codeChallengeMethod ?? null,
    session.nonce ?? null,
    session.expiresAt,
  ];
}

/** PostgreSQL's decision (see `decide`): compare-and-set, and the session read back with its resource. */
const DECIDE_SESSION: NamedStatement = {
  name: 'decide_session',
  sql: `with s as (
          update ${SESSIONS_TABLE} set status = ?, user_entity_ref = ?
          where id = ? and status = 'pending' and expires_at > ?
          returning *
        )
        select s.*, r.resource from s
        left join ${SESSION_RESOURCES_TABLE} r on r.session_id = s.id`,
};

/** Joins a session query (aliased `s`) with its resource, if any. */
export function withSessionResource<T extends Knex.QueryBuilder>(query: T): T {
  return query.leftJoin(`${SESSION_RESOURCES_TABLE} as r`, 'r.session_id', 's.id') as T;
}

/** Authorization sessions in the plugin database. */
export class DbAuthorizationSessionStore implements AuthorizationSessionStore {
  readonly #db: Knex;
  /** Writes a new session's row; on PostgreSQL, together with those asked for meanwhile. */
  readonly #insert: (session: NewSession) => Promise<void>;

  static create(options: { knex: Knex }): DbAuthorizationSessionStore {
    return new DbAuthorizationSessionStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
    this.#insert =
      db.client.dialect === 'postgresql'
        ? coalesceWrites(async sessions => {
            const rows = sessions.map(insertValues);
            // One array per column, for unnest().
            const columns = rows[0].map((_, column) => rows.map(row => row[column]));
            await runStatement(db, INSERT_SESSIONS, columns as Knex.Value[]);
          }, MAX_SESSIONS_PER_INSERT)
        : async session => {
            await runStatement(db, INSERT_SESSION, insertValues(session));
          };
  }

  /**
   * Stores an undecided session; resolves once it is written. The
   * authorization endpoint's one statement, which on PostgreSQL concurrent
   * requests share (see {@link coalesceWrites}).
   */
  async create(session: NewSession): Promise<void> {
    await this.#insert(session);
    if (session.resource) {
      await this.#db(SESSION_RESOURCES_TABLE).insert({ session_id: session.id, resource: session.resource });
    }
  }

  async get(id: string): Promise<AuthorizationSession | undefined> {
    const row = await withSessionResource(this.#db<DbAuthorizationSessionRow>(`${SESSIONS_TABLE} as s`))
      .where('s.id', id)
      .first('s.*', 'r.resource')
      .limit(1, LITERAL_LIMIT);
    return row ? toSession(row) : undefined;
  }

  async decide(
    id: string,
    decision: { status: 'approved' | 'rejected'; userEntityRef: string; now: Date },
  ): Promise<AuthorizationSession | undefined> {
    if (this.#db.client.dialect === 'postgresql') return this.#decideInOneStatement(id, decision);
    // Compare-and-set: of two racing decisions exactly one changes the row.
    const changed = await this.#db<DbAuthorizationSessionRow>(SESSIONS_TABLE)
      .where({ id, status: 'pending' })
      .andWhere('expires_at', '>', decision.now)
      .update({ status: decision.status, user_entity_ref: decision.userEntityRef });
    return changed === 1 ? this.get(id) : undefined;
  }

  /**
   * PostgreSQL: the same compare-and-set, returning the decided session with
   * its resource in the same statement, one round trip instead of two
   * (issue 15). No row means someone decided first or it expired.
   */
  async #decideInOneStatement(
    id: string,
    decision: { status: 'approved' | 'rejected'; userEntityRef: string; now: Date },
  ): Promise<AuthorizationSession | undefined> {
    const row = await readFirst<DbAuthorizationSessionRow>(this.#db, DECIDE_SESSION, [
      decision.status,
      decision.userEntityRef,
      id,
      decision.now,
    ]);
    return row ? toSession(row) : undefined;
  }

  async countPending(clientId: string, now: Date, atMost: number): Promise<number> {
    // A pending session has no user yet, so the (client_id, user_entity_ref)
    // index finds exactly the client's undecided sessions; the count stops
    // at `atMost` rows however many there are.
    const pending = this.#db<DbAuthorizationSessionRow>(SESSIONS_TABLE)
      .select(this.#db.raw('1'))
      .where({ client_id: clientId, status: 'pending' })
      .whereNull('user_entity_ref')
      .andWhere('expires_at', '>', now)
      .limit(atMost, LITERAL_LIMIT)
      .as('pending');
    const [row] = await this.#db.from(pending).count({ count: '*' });
    return Number(row?.count ?? 0);
  }

  async revokeGrant(id: string): Promise<void> {
    // `expired` is the schema's one status that grants nothing and is not a
    // user's decision; cleanup deletes the row when its time is up.
    await this.#db<DbAuthorizationSessionRow>(SESSIONS_TABLE)
      .where({ id })
      .whereIn('status', ['pending', 'approved'])
      .update({ status: 'expired' });
  }
}

/** Maps a session row (also used by the code store's join). */
export function toSession(row: DbAuthorizationSessionRow): AuthorizationSession {
  return {
    id: row.id,
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    scopes: row.scope ? row.scope.split(' ').filter(Boolean) : [],
    ...(row.resource ? { resource: row.resource } : {}),
    state: row.state ?? undefined,
    nonce: row.nonce ?? undefined,
    codeChallenge: row.code_challenge ?? undefined,
    codeChallengeMethod: row.code_challenge_method ?? undefined,
    responseType: row.response_type,
    status: row.status ?? 'pending',
    userEntityRef: row.user_entity_ref ?? undefined,
    expiresAt: parseDbDate(row.expires_at),
  };
}
