import type { Knex } from 'knex';
import type {
  AuthenticationRequirements,
  SessionAuthenticationStore,
  UserAuthentication,
} from '../oauth/authenticationContext';
import {
  type DbAuthenticationColumns,
  fromAuthenticationColumns,
  toAuthenticationColumns,
} from './authenticationColumns';
import { USER_SIGN_INS_TABLE } from './DbUserSignInStore';
import { LITERAL_LIMIT } from './literalLimit';
import { runNamed } from './namedStatement';
import { parseDbDate } from './parseDbDate';

/**
 * `oidc_authorization_authentication`: what an authorization session's
 * request asked of the sign-in, and the authentication that approved it.
 */
export interface DbSessionAuthenticationRow extends DbAuthenticationColumns {
  session_id: string;
  requested_at: Date | string | number | null;
  max_age: number | null;
  /** Boolean; 0/1 on SQLite. */
  prompt_login: boolean | number;
  /** Space-separated. */
  acr_values: string | null;
}

export const SESSION_AUTHENTICATION_TABLE = 'oidc_authorization_authentication';

/** Authentication requirements and approvals of authorization sessions. */
export class DbSessionAuthenticationStore implements SessionAuthenticationStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbSessionAuthenticationStore {
    return new DbSessionAuthenticationStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  async saveRequirements(sessionId: string, requirements: AuthenticationRequirements): Promise<void> {
    await this.#db<DbSessionAuthenticationRow>(SESSION_AUTHENTICATION_TABLE).insert({
      session_id: sessionId,
      requested_at: requirements.requestedAt,
      max_age: requirements.maxAgeSeconds ?? null,
      prompt_login: requirements.promptLogin,
      acr_values: requirements.acrValues?.join(' ') ?? null,
    });
  }

  async findRequirements(sessionId: string): Promise<AuthenticationRequirements | undefined> {
    const row = await this.#db<DbSessionAuthenticationRow>(SESSION_AUTHENTICATION_TABLE)
      .where({ session_id: sessionId })
      .first()
      .limit(1, LITERAL_LIMIT);
    return row && toRequirements(row);
  }

  async findForDecision(
    sessionId: string,
    userEntityRef: string,
  ): Promise<{ requirements?: AuthenticationRequirements; signIn?: UserAuthentication }> {
    // One statement for two independent rows (issue 15): a one-row derived
    // table with both left-joined, so either may be missing.
    const row = await runNamed<DecisionRow | undefined>(this.#db, 'find_for_decision', () => this.#db
      .from(this.#db.raw('(select 1 as one) as d'))
      .leftJoin(`${SESSION_AUTHENTICATION_TABLE} as a`, 'a.session_id', this.#db.raw('?', [sessionId]))
      .leftJoin(`${USER_SIGN_INS_TABLE} as u`, 'u.user_entity_ref', this.#db.raw('?', [userEntityRef]))
      .first<DecisionRow | undefined>(
        'a.requested_at',
        'a.max_age',
        'a.prompt_login',
        'a.acr_values',
        'u.auth_time',
        'u.acr',
        'u.amr',
      )
      .limit(1, LITERAL_LIMIT));
    const requirements = row && toRequirements(row);
    const signIn = row && fromAuthenticationColumns(row);
    return { ...(requirements ? { requirements } : {}), ...(signIn ? { signIn } : {}) };
  }


}

/** The columns {@link DbSessionAuthenticationStore.findForDecision} reads. */
export type DecisionRow = Pick<DbSessionAuthenticationRow, 'requested_at' | 'max_age' | 'prompt_login' | 'acr_values'> &
  DbAuthenticationColumns;

/** The requirements a row holds; undefined when its request had none. */
export function toRequirements(
  row: Pick<DbSessionAuthenticationRow, 'requested_at' | 'max_age' | 'prompt_login' | 'acr_values'>,
): AuthenticationRequirements | undefined {
  if (!row.requested_at) return undefined;
  return {
    requestedAt: parseDbDate(row.requested_at),
    promptLogin: Boolean(row.prompt_login),
    ...(row.max_age !== null && row.max_age !== undefined ? { maxAgeSeconds: row.max_age } : {}),
    ...(row.acr_values ? { acrValues: row.acr_values.split(' ') } : {}),
  };
}

/**
 * The upsert that records the authentication approving a session. Only the
 * winner of the session's one decision writes it, so a plain upsert is safe.
 * A builder, so a code's insert can carry it in the same statement.
 */
export function upsertApproval(db: Knex, sessionId: string, authentication: UserAuthentication) {
  return db<DbSessionAuthenticationRow>(SESSION_AUTHENTICATION_TABLE)
    .insert({ session_id: sessionId, prompt_login: false, ...toAuthenticationColumns(authentication) })
    .onConflict('session_id')
    .merge(['auth_time', 'acr', 'amr']);
}
