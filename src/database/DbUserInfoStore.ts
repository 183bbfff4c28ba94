import type { Knex } from 'knex';
import type { UserTokenClaims } from '../identity/createIdentity';
import type { DbUserInfoRow } from './tables';
import { LITERAL_LIMIT } from './literalLimit';

export const USER_INFO_TABLE = 'user_info';

/** Reads a `user_info.user_info` column (upstream's `{ claims }` JSON). */
export function parseUserInfo(json: string): { claims: UserTokenClaims } {
  return JSON.parse(json) as { claims: UserTokenClaims };
}

/** The claims saved at each user's last sign-in, in `user_info`. */
export class DbUserInfoStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbUserInfoStore {
    return new DbUserInfoStore(options.knex);
  }

  private constructor(knex: Knex) {
    this.#db = knex;
  }

  /** Inserts or replaces the user's claims; `created_at` keeps the first sign-in. */
  async saveUserInfo(claims: UserTokenClaims): Promise<void> {
    await this.#db<DbUserInfoRow>(USER_INFO_TABLE)
      .insert({
        user_entity_ref: claims.sub,
        // Same JSON shape as upstream, so existing rows stay readable both ways.
        user_info: JSON.stringify({ claims }),
        updated_at: new Date(),
      })
      .onConflict('user_entity_ref')
      .merge(['user_info', 'updated_at']);
  }

  async getUserInfo(userEntityRef: string): Promise<{ claims: UserTokenClaims } | undefined> {
    const row = await this.#db<DbUserInfoRow>(USER_INFO_TABLE)
      .where({ user_entity_ref: userEntityRef })
      .first('user_info')
      .limit(1, LITERAL_LIMIT);
    if (!row) return undefined;
    return parseUserInfo(row.user_info);
  }
}
