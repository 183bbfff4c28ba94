import type { Knex } from 'knex';
import type { Approval, AuthorizationCodeStore, RedeemResult } from '../oauth/stores';
import { type UserAuthentication, authenticationOf } from '../oauth/authenticationContext';
import {
  DECIDED_COLUMNS,
  DECIDED_VALUES,
  SESSION_RESOURCES_TABLE,
  SESSIONS_TABLE,
  decidedValues,
  insertDecidedSession,
  toSession,
  type DbAuthorizationSessionRow,
} from './DbAuthorizationSessionStore';
import { USER_INFO_TABLE, parseUserInfo } from './DbUserInfoStore';
import { type DbAuthenticationColumns, fromAuthenticationColumns } from './authenticationColumns';
import {
  SESSION_AUTHENTICATION_TABLE,
  requirementColumns,
  sessionAuthenticationRow,
} from './sessionAuthentication';
import { DbUserSignInStore, USER_SIGN_INS_TABLE } from './DbUserSignInStore';
import { type DbGrantRow, GRANTS_TABLE } from './grants';
import { parseDbDate } from './parseDbDate';
import { LITERAL_LIMIT } from './literalLimit';
import { readFirst, runChanging, type NamedStatement } from './namedStatement';

/** `oidc_authorization_codes`: `code` holds the SHA-256 of the code, never the code. */
export interface DbAuthorizationCodeRow {
  code: string;
  session_id: string;
  expires_at: Date | string | number;
  /** Boolean; 0/1 on SQLite. */
  used: boolean | number | null;
}

const CODES_TABLE = 'oidc_authorization_codes';

/** The code's own columns in the joined read, renamed apart from the session's. */
interface CodeColumns {
  code_expires_at: DbAuthorizationCodeRow['expires_at'];
  code_used: DbAuthorizationCodeRow['used'];
  /** The approving user's `user_info` JSON; null when none is saved (or nobody approved). */
  saved_user_info: string | null;
  /** The approving authentication (issue 14); null when none was recorded. */
  approved_auth_time: DbAuthenticationColumns['auth_time'];
  approved_acr: DbAuthenticationColumns['acr'];
  approved_amr: DbAuthenticationColumns['amr'];
}

/**
 * PostgreSQL's approval (see `createApproved`): record the decided request
 * unless it was decided before, and with it its resource, what it asked of
 * the sign-in and the approving authentication (the user's last sign-in),
 * its code and its grant; read that sign-in back for the caller to judge.
 */
const APPROVE_REQUEST: NamedStatement = {
  name: 'approve_request',
  sql: `with s as (
          insert into ${SESSIONS_TABLE} ${DECIDED_COLUMNS} values ${DECIDED_VALUES}
          on conflict (id) do nothing
          returning id
        ), u as (
          select auth_time, acr, amr from ${USER_SIGN_INS_TABLE} where user_entity_ref = ?
        ), r as (
          insert into ${SESSION_RESOURCES_TABLE} (session_id, resource)
          select s.id, ?::text from s where ?::text is not null
        ), a as (
          insert into ${SESSION_AUTHENTICATION_TABLE}
            (session_id, requested_at, max_age, prompt_login, acr_values, auth_time, acr, amr)
          select s.id, ?::timestamptz, ?::integer, ?::boolean, ?::text, u.auth_time, u.acr, u.amr
          from s left join u on true
        ), c as (
          insert into ${CODES_TABLE} (code, session_id, expires_at, used)
          select ?, s.id, ?, false from s
        ), g as (
          insert into ${GRANTS_TABLE} (id, client_id, user_entity_ref, created_at, revoked_at, expires_at)
          select s.id, ?, ?, ?, null, ? from s
        )
        select u.auth_time, u.acr, u.amr from s left join u on true`,
};

/**
 * A redemption's read: the code by its hash, its session, and what the token
 * needs (the resource, the approving user's saved claims, the approval's
 * authentication). The FK makes the inner join safe: a code without its
 * session reads as unknown.
 */
const FROM_CODE_WITH_GRANT = `from ${CODES_TABLE} c
        join ${SESSIONS_TABLE} s on s.id = c.session_id
        left join ${SESSION_RESOURCES_TABLE} r on r.session_id = s.id
        left join ${USER_INFO_TABLE} u on u.user_entity_ref = s.user_entity_ref
        left join ${SESSION_AUTHENTICATION_TABLE} a on a.session_id = s.id
        where c.code = ?
        limit 1`;

/** PostgreSQL's redemption (see `redeem`): spend the code and read what the token needs. */
const REDEEM_CODE: NamedStatement = {
  name: 'redeem_code',
  sql: `with redeemed as (
          update ${CODES_TABLE} set used = true
          where code = ? and used = false and expires_at > ?
          returning code
        )
        select s.*, r.resource, c.expires_at as code_expires_at,
               (c.used or c.expires_at > ?) as code_spent,
               u.user_info as saved_user_info,
               a.auth_time as approved_auth_time, a.acr as approved_acr, a.amr as approved_amr,
               exists (select 1 from redeemed) as code_redeemed
        ${FROM_CODE_WITH_GRANT}`,
};

/**
 * Other databases' redemption (see `redeem`), in two statements: spend the
 * code if it is unused and unexpired, then read it with what the token needs.
 */
const SPEND_CODE: NamedStatement = {
  name: 'spend_code',
  sql: `update ${CODES_TABLE} set used = true where code = ? and used = false and expires_at > ?`,
};
const READ_CODE: NamedStatement = {
  name: 'read_code',
  sql: `select s.*, r.resource, c.expires_at as code_expires_at, c.used as code_used,
               u.user_info as saved_user_info,
               a.auth_time as approved_auth_time, a.acr as approved_acr, a.amr as approved_amr
        ${FROM_CODE_WITH_GRANT}`,
};

/** Authorization codes in the plugin database. */
export class DbAuthorizationCodeStore implements AuthorizationCodeStore {
  readonly #db: Knex;
  /** Where other databases than PostgreSQL read the approving user's sign-in. */
  readonly #signIns: DbUserSignInStore;

  static create(options: { knex: Knex }): DbAuthorizationCodeStore {
    return new DbAuthorizationCodeStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
    this.#signIns = DbUserSignInStore.create({ knex: db });
  }

  async createApproved(approval: Approval): Promise<{ signIn?: UserAuthentication } | undefined> {
    if (this.#db.client.dialect === 'postgresql') return this.#approveInOneStatement(approval);
    const { request, userEntityRef } = approval;
    if (!(await insertDecidedSession(this.#db, request, 'approved', userEntityRef))) return undefined;
    // Only the winner of the decision gets here, so plain inserts are safe.
    // The code last: nothing can redeem a session whose rows are incomplete.
    if (request.resource) {
      await this.#db(SESSION_RESOURCES_TABLE).insert({ session_id: request.id, resource: request.resource });
    }
    const record = await this.#signIns.get(userEntityRef);
    const signIn = record && authenticationOf(record);
    if (signIn || request.requirements) {
      await this.#db(SESSION_AUTHENTICATION_TABLE).insert(
        sessionAuthenticationRow(request.id, request.requirements, signIn),
      );
    }
    await this.#db<DbGrantRow>(GRANTS_TABLE).insert({
      id: request.id,
      client_id: request.clientId,
      user_entity_ref: userEntityRef,
      created_at: approval.now,
      revoked_at: null,
      expires_at: approval.grantExpiresAt,
    });
    await this.#db(CODES_TABLE).insert({
      code: approval.codeHash,
      session_id: request.id,
      expires_at: approval.codeExpiresAt,
      used: false,
    });
    return signIn ? { signIn } : {};
  }

  /**
   * PostgreSQL: the decision, the approval's rows and its code as one
   * statement (issue 15). The inserts read the session from its CTE, so
   * they happen only when this statement made the decision.
   */
  async #approveInOneStatement(approval: Approval): Promise<{ signIn?: UserAuthentication } | undefined> {
    const { request, userEntityRef } = approval;
    const requirements = requirementColumns(request.requirements);
    const resource = request.resource ?? null;
    const row = await readFirst<DbAuthenticationColumns>(this.#db, APPROVE_REQUEST, [
      ...decidedValues(request, 'approved', userEntityRef),
      userEntityRef,
      resource,
      resource,
      requirements.requested_at,
      requirements.max_age,
      requirements.prompt_login,
      requirements.acr_values,
      approval.codeHash,
      approval.codeExpiresAt,
      request.clientId,
      userEntityRef,
      approval.now,
      approval.grantExpiresAt,
    ]);
    if (!row) return undefined;
    const signIn = fromAuthenticationColumns(row);
    return signIn ? { signIn } : {};
  }

  async withdraw(sessionId: string): Promise<void> {
    const reject = (builder: Knex.QueryBuilder) =>
      builder.from(SESSIONS_TABLE).where({ id: sessionId, status: 'approved' }).update({ status: 'rejected' });
    const deleteCode = this.#db(CODES_TABLE).where({ session_id: sessionId }).delete();
    const forgetApproval = this.#db(SESSION_AUTHENTICATION_TABLE)
      .where({ session_id: sessionId })
      .update({ auth_time: null, acr: null, amr: null });
    if (this.#db.client.dialect === 'postgresql') {
      await reject(this.#db.queryBuilder().with('c', deleteCode).with('a', forgetApproval));
      return;
    }
    // The code first: the session stays approved until nothing can redeem it.
    await deleteCode;
    await forgetApproval;
    await reject(this.#db.queryBuilder());
  }

  async findClientId(codeHash: string): Promise<string | undefined> {
    const row = await this.#db<DbAuthorizationCodeRow>(`${CODES_TABLE} as c`)
      .join(`${SESSIONS_TABLE} as s`, 's.id', 'c.session_id')
      .where('c.code', codeHash)
      .first<{ client_id: string } | undefined>('s.client_id')
      .limit(1, LITERAL_LIMIT);
    return row?.client_id;
  }

  async redeem(codeHash: string, now: Date): Promise<RedeemResult> {
    if (this.#db.client.dialect === 'postgresql') return this.#redeemInOneStatement(codeHash, now);
    // One conditional UPDATE decides the race (RFC 6749 §4.1.2: use once);
    // no RETURNING, so it behaves alike on SQLite and MySQL.
    const changed = await runChanging(this.#db, SPEND_CODE, [codeHash, now]);
    // One read for the code, its session and the approving user's saved claims.
    const row = await readFirst<DbAuthorizationSessionRow & CodeColumns>(this.#db, READ_CODE, [codeHash]);
    if (!row) return { kind: 'unknown' };
    // The read came after the update, so a code someone else spent reads as used.
    return toRedeemResult(row, changed === 1, Boolean(row.code_used));
  }

  /**
   * PostgreSQL: the same conditional UPDATE and joined read as one statement,
   * one round trip instead of two (issue 15). The UPDATE runs in a CTE; the
   * read beside it sees the snapshot the statement started with, so a code
   * that a racing redemption spent meanwhile still reads as unused there.
   * The UPDATE itself re-checks the latest row, though: it changed nothing
   * for a code that exists and has not expired only because someone else
   * had used it, which is a replay.
   */
  async #redeemInOneStatement(codeHash: string, now: Date): Promise<RedeemResult> {
    const row = await readFirst<DbAuthorizationSessionRow & RedeemColumns>(this.#db, REDEEM_CODE, [
      codeHash,
      now,
      now,
      codeHash,
    ]);
    if (!row) return { kind: 'unknown' };
    return toRedeemResult(row, row.code_redeemed, row.code_spent);
  }
}

/** Columns the one-statement redemption adds to the joined read. */
interface RedeemColumns extends CodeColumns {
  /** Whether this statement's UPDATE spent the code. */
  code_redeemed: boolean;
  /** Used, or (when this statement did not spend it) not expired, so spent by someone else. */
  code_spent: boolean;
}

/**
 * What a redemption attempt came to: `redeemed` when this attempt spent the
 * code, `replayed` when it had been spent before, else `expired`.
 */
function toRedeemResult(
  row: DbAuthorizationSessionRow & CodeColumns,
  redeemed: boolean,
  spent: boolean,
): RedeemResult {
  if (redeemed) {
    return {
      kind: 'redeemed',
      code: {
        sessionId: row.id,
        expiresAt: parseDbDate(row.code_expires_at),
        session: toSession(row),
        savedClaims: row.saved_user_info === null ? null : parseUserInfo(row.saved_user_info).claims,
        authentication: fromAuthenticationColumns({
          auth_time: row.approved_auth_time,
          acr: row.approved_acr,
          amr: row.approved_amr,
        }),
      },
    };
  }
  if (spent) {
    return {
      kind: 'replayed',
      sessionId: row.id,
      clientId: row.client_id,
      userEntityRef: row.user_entity_ref ?? undefined,
    };
  }
  return { kind: 'expired' };
}
