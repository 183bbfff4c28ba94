import type { Knex } from 'knex';
import type { AuthorizationRequest } from '../oauth/authorizationRequests';
import type { AuthorizationSession, AuthorizationSessionStore } from '../oauth/stores';
import { parseDbDate } from './parseDbDate';
import { LITERAL_LIMIT } from './literalLimit';
import { readFirst, runChanging, runStatement, type NamedStatement } from './namedStatement';

/**
 * `oauth_authorization_sessions`: one row per decided authorization request
 * (upstream's table). Requests waiting for a decision have no row: they
 * live in their handles (issue 25 item 1).
 */
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

/** The columns a decided request's row is written with, and their placeholders. */
export const DECIDED_COLUMNS = `(id, client_id, user_entity_ref, redirect_uri, scope, state, response_type,
           code_challenge, code_challenge_method, nonce, status, expires_at)`;
/** `response_type=code` is the only one there is. */
export const DECIDED_VALUES = `(?, ?, ?, ?, ?, ?, 'code', ?, ?, ?, ?, ?)`;

/**
 * A decision, written once: the row's primary key makes a second decision
 * on the same request change nothing (PostgreSQL and SQLite).
 */
const INSERT_DECIDED: NamedStatement = {
  name: 'insert_decided_session',
  sql: `insert into ${SESSIONS_TABLE} ${DECIDED_COLUMNS} values ${DECIDED_VALUES} on conflict (id) do nothing`,
};
/** MySQL has no `on conflict`; a duplicate key is the lost decision there. */
const INSERT_DECIDED_MYSQL: NamedStatement = {
  name: 'insert_decided_session',
  sql: `insert into ${SESSIONS_TABLE} ${DECIDED_COLUMNS} values ${DECIDED_VALUES}`,
};

const IS_DECIDED: NamedStatement = {
  name: 'is_session_decided',
  sql: `select 1 as decided from ${SESSIONS_TABLE} where id = ? limit 1`,
};

/** A decided request's values, in the order of {@link DECIDED_VALUES}' placeholders. */
export function decidedValues(
  request: AuthorizationRequest,
  status: 'approved' | 'rejected',
  userEntityRef: string,
): Knex.Value[] {
  return [
    request.id,
    request.clientId,
    userEntityRef,
    request.redirectUri,
    request.scopes.join(' '),
    request.state ?? null,
    request.codeChallenge,
    request.codeChallengeMethod,
    request.nonce ?? null,
    status,
    request.expiresAt,
  ];
}

/**
 * Records a request's one decision; true for exactly one caller, false when
 * it was decided before (the row exists). Other databases than PostgreSQL
 * write an approval's other rows after this one.
 */
export async function insertDecidedSession(
  db: Knex,
  request: AuthorizationRequest,
  status: 'approved' | 'rejected',
  userEntityRef: string,
): Promise<boolean> {
  const values = decidedValues(request, status, userEntityRef);
  if (db.client.dialect !== 'mysql' && db.client.dialect !== 'mysql2') {
    return (await runChanging(db, INSERT_DECIDED, values)) === 1;
  }
  try {
    await runStatement(db, INSERT_DECIDED_MYSQL, values);
    return true;
  } catch (error) {
    if ((error as { code?: unknown })?.code === 'ER_DUP_ENTRY') return false;
    throw error;
  }
}

/** Joins a session query (aliased `s`) with its resource, if any. */
export function withSessionResource<T extends Knex.QueryBuilder>(query: T): T {
  return query.leftJoin(`${SESSION_RESOURCES_TABLE} as r`, 'r.session_id', 's.id') as T;
}

/** Decided authorization requests in the plugin database. */
export class DbAuthorizationSessionStore implements AuthorizationSessionStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbAuthorizationSessionStore {
    return new DbAuthorizationSessionStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  async get(id: string): Promise<AuthorizationSession | undefined> {
    const row = await withSessionResource(this.#db<DbAuthorizationSessionRow>(`${SESSIONS_TABLE} as s`))
      .where('s.id', id)
      .first('s.*', 'r.resource')
      .limit(1, LITERAL_LIMIT);
    return row ? toSession(row) : undefined;
  }

  async isDecided(id: string): Promise<boolean> {
    return (await readFirst(this.#db, IS_DECIDED, [id])) !== undefined;
  }

  async reject(request: AuthorizationRequest, userEntityRef: string): Promise<boolean> {
    return insertDecidedSession(this.#db, request, 'rejected', userEntityRef);
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
