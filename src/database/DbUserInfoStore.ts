import type { Knex } from 'knex';
import type { SignInRecord } from '../oauth/authenticationContext';
import type { SavedUserClaims } from '../oauth/stores';
import { signInColumns, upsertSignIn } from './DbUserSignInStore';
import type { DbUserInfoRow } from './tables';
import { readFirst, runNamed, type NamedStatement } from './namedStatement';

export const USER_INFO_TABLE = 'user_info';
/** SQLite only: a view whose INSTEAD OF trigger saves claims and sign-in in one statement. */
const SIGN_IN_SAVES_VIEW = 'oidc_user_sign_in_saves';
/** The userinfo endpoint's one read. */
const GET_USER_INFO: NamedStatement = {
  name: 'get_user_info',
  sql: `select user_info from ${USER_INFO_TABLE} where user_entity_ref = ? limit 1`,
};

/**
 * A sign-in whose claims equal the saved ones leaves the row alone unless
 * `updated_at` is older than this, so `updated_at` stays within an hour of
 * the user's last sign-in without a write at every sign-in.
 */
const REWRITE_UNCHANGED_AFTER_MS = 60 * 60 * 1000;

/** Reads a `user_info.user_info` column (upstream's `{ claims }` JSON). */
export function parseUserInfo(json: string): { claims: SavedUserClaims } {
  return JSON.parse(json) as { claims: SavedUserClaims };
}

/** The claims saved at each user's last sign-in, in `user_info`. */
export class DbUserInfoStore {
  readonly #db: Knex;
  readonly #clock: () => Date;

  static create(options: { knex: Knex; clock?: () => Date }): DbUserInfoStore {
    return new DbUserInfoStore(options.knex, options.clock ?? (() => new Date()));
  }

  private constructor(knex: Knex, clock: () => Date) {
    this.#db = knex;
    this.#clock = clock;
  }

  /**
   * Inserts or replaces the user's claims; `created_at` keeps the first
   * sign-in. One statement either way, and one that writes nothing when the
   * claims are the ones already saved (and were saved within the hour), as
   * at most sign-ins: no new row version, no lock held. `signIn`, the
   * sign-in that issued the claims (issue 14), is recorded too: in the same
   * statement on PostgreSQL and SQLite, in a second one on MySQL.
   */
  async saveUserInfo(claims: SavedUserClaims, signIn?: SignInRecord): Promise<void> {
    const now = this.#clock();
    const row = {
      user_entity_ref: claims.sub,
      // Same JSON shape as upstream, so existing rows stay readable both ways.
      user_info: JSON.stringify({ claims }),
      updated_at: now,
    };
    const fresh = new Date(now.getTime() - REWRITE_UNCHANGED_AFTER_MS);
    if (this.#db.client.dialect === 'mysql' || this.#db.client.dialect === 'mysql2') {
      // MySQL assigns left to right: updated_at is decided on the old user_info.
      await this.#db.raw(
        `insert into ${USER_INFO_TABLE} (user_entity_ref, user_info, updated_at) values (?, ?, ?)
         on duplicate key update
           updated_at = if(user_info = values(user_info) and updated_at > ?, updated_at, values(updated_at)),
           user_info = values(user_info)`,
        [row.user_entity_ref, row.user_info, row.updated_at, fresh],
      );
      if (signIn) await upsertSignIn(this.#db, signIn);
      return;
    }
    // PostgreSQL and SQLite: the insert selects nothing when the saved row is
    // current, so there is no conflict to resolve and no row to lock.
    const saveInfo = () =>
      this.#db.raw(
        `insert into ${USER_INFO_TABLE} (user_entity_ref, user_info, updated_at)
         select ?, ?, ?
         where not exists (
           select 1 from ${USER_INFO_TABLE}
           where user_entity_ref = ? and user_info = ? and updated_at > ?
         )
         on conflict (user_entity_ref) do update
           set user_info = excluded.user_info, updated_at = excluded.updated_at`,
        [row.user_entity_ref, row.user_info, row.updated_at, row.user_entity_ref, row.user_info, fresh],
      );
    if (signIn && this.#db.client.dialect === 'postgresql') {
      // The claims and the sign-in record in one statement (issue 15): a
      // data-modifying CTE runs whether or not the outer statement reads it.
      await runNamed(this.#db, 'save_user_info_and_sign_in', () =>
        upsertSignIn(this.#db, signIn).with('info', saveInfo()),
      );
      return;
    }
    if (signIn && this.#db.client.dialect === 'sqlite3') {
      // One statement on SQLite too: the view's trigger writes both tables
      // (migration 20261220120000).
      await this.#db(SIGN_IN_SAVES_VIEW).insert({
        ...signInColumns(signIn),
        user_info: row.user_info,
        user_info_updated_at: row.updated_at,
        user_info_fresh_after: fresh,
      });
      return;
    }
    await runNamed(this.#db, 'save_user_info', saveInfo);
    if (signIn) await upsertSignIn(this.#db, signIn);
  }

  async getUserInfo(userEntityRef: string): Promise<{ claims: SavedUserClaims } | undefined> {
    const row = await readFirst<Pick<DbUserInfoRow, 'user_info'>>(this.#db, GET_USER_INFO, [userEntityRef]);
    if (!row) return undefined;
    return parseUserInfo(row.user_info);
  }
}
