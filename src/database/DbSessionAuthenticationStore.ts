import type { Knex } from 'knex';
import type {
  AuthenticationRequirements,
  SessionAuthenticationStore,
  UserAuthentication,
} from '../oauth/authenticationContext';
import { type DbAuthenticationColumns, toAuthenticationColumns } from './authenticationColumns';
import { LITERAL_LIMIT } from './literalLimit';
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
    if (!row?.requested_at) return undefined;
    return {
      requestedAt: parseDbDate(row.requested_at),
      promptLogin: Boolean(row.prompt_login),
      ...(row.max_age !== null ? { maxAgeSeconds: row.max_age } : {}),
      ...(row.acr_values ? { acrValues: row.acr_values.split(' ') } : {}),
    };
  }

  async recordApproval(sessionId: string, authentication: UserAuthentication): Promise<void> {
    // Only the winner of the session's one decision gets here, so a plain upsert is safe.
    const columns = toAuthenticationColumns(authentication);
    await this.#db<DbSessionAuthenticationRow>(SESSION_AUTHENTICATION_TABLE)
      .insert({ session_id: sessionId, prompt_login: false, ...columns })
      .onConflict('session_id')
      .merge(['auth_time', 'acr', 'amr']);
  }
}
