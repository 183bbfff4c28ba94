import type { Knex } from 'knex';
import type { AuthorizationCodeStore, RedeemResult } from '../oauth/stores';
import {
  SESSIONS_TABLE,
  toSession,
  type DbAuthorizationSessionRow,
} from './DbAuthorizationSessionStore';
import { parseDbDate } from './parseDbDate';

/** `oidc_authorization_codes`: `code` holds the SHA-256 of the code, never the code. */
export interface DbAuthorizationCodeRow {
  code: string;
  session_id: string;
  expires_at: Date | string | number;
  /** Boolean; 0/1 on SQLite. */
  used: boolean | number | null;
}

const CODES_TABLE = 'oidc_authorization_codes';

/** Authorization codes in the plugin database. */
export class DbAuthorizationCodeStore implements AuthorizationCodeStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbAuthorizationCodeStore {
    return new DbAuthorizationCodeStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  async create(code: { codeHash: string; sessionId: string; expiresAt: Date }): Promise<void> {
    await this.#db<DbAuthorizationCodeRow>(CODES_TABLE).insert({
      code: code.codeHash,
      session_id: code.sessionId,
      expires_at: code.expiresAt,
      used: false,
    });
  }

  async redeem(codeHash: string, now: Date): Promise<RedeemResult> {
    // One conditional UPDATE decides the race (RFC 6749 §4.1.2: use once);
    // no RETURNING, so it behaves alike on SQLite, PostgreSQL and MySQL.
    const changed = await this.#db<DbAuthorizationCodeRow>(CODES_TABLE)
      .where({ code: codeHash, used: false })
      .andWhere('expires_at', '>', now)
      .update({ used: true });
    const row = await this.#db<DbAuthorizationCodeRow>(CODES_TABLE)
      .where({ code: codeHash })
      .first();
    if (!row) return { kind: 'unknown' };
    const session = await this.#db<DbAuthorizationSessionRow>(SESSIONS_TABLE)
      .where({ id: row.session_id })
      .first();
    if (!session) return { kind: 'unknown' };
    if (changed === 1) {
      return {
        kind: 'redeemed',
        code: {
          sessionId: row.session_id,
          expiresAt: parseDbDate(row.expires_at),
          session: toSession(session),
        },
      };
    }
    if (row.used) {
      return {
        kind: 'replayed',
        sessionId: row.session_id,
        clientId: session.client_id,
        userEntityRef: session.user_entity_ref ?? undefined,
      };
    }
    return { kind: 'expired' };
  }
}
