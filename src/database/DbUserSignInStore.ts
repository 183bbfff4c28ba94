import type { Knex } from 'knex';
import type { SignInRecord, UserSignInStore } from '../oauth/authenticationContext';
import {
  type DbAuthenticationColumns,
  fromAuthenticationColumns,
  toAuthenticationColumns,
} from './authenticationColumns';
import { LITERAL_LIMIT } from './literalLimit';
import { runNamed } from './namedStatement';

/** `oidc_user_sign_ins`: each user's last sign-in through a sign-in provider. */
export interface DbUserSignInRow extends DbAuthenticationColumns {
  user_entity_ref: string;
  provider_id: string;
  updated_at: Date | string | number;
}

export const USER_SIGN_INS_TABLE = 'oidc_user_sign_ins';

/** The last sign-in of each user, in the plugin database. */
export class DbUserSignInStore implements UserSignInStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbUserSignInStore {
    return new DbUserSignInStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  async get(userEntityRef: string): Promise<SignInRecord | undefined> {
    const row = await runNamed<DbUserSignInRow | undefined>(this.#db, 'get_sign_in', () =>
      this.#db<DbUserSignInRow>(USER_SIGN_INS_TABLE)
        .where({ user_entity_ref: userEntityRef })
        .first()
        .limit(1, LITERAL_LIMIT),
    );
    const authentication = row && fromAuthenticationColumns(row);
    if (!row || !authentication) return undefined;
    return { userEntityRef: row.user_entity_ref, providerId: row.provider_id, ...authentication };
  }

  async save(record: SignInRecord): Promise<void> {
    await runNamed(this.#db, 'save_sign_in', () => upsertSignIn(this.#db, record));
  }
}

/** A sign-in record as its row. */
export function signInColumns(record: SignInRecord): DbUserSignInRow {
  return {
    user_entity_ref: record.userEntityRef,
    provider_id: record.providerId,
    ...toAuthenticationColumns(record),
    updated_at: new Date(),
  };
}

/**
 * The upsert that records a sign-in. Last writer wins: it records the latest
 * sign-in, nothing that must happen once. A builder, so the user's claims
 * can be saved in the same statement (DbUserInfoStore).
 */
export function upsertSignIn(db: Knex, record: SignInRecord) {
  return db<DbUserSignInRow>(USER_SIGN_INS_TABLE)
    .insert(signInColumns(record))
    .onConflict('user_entity_ref')
    .merge(['provider_id', 'auth_time', 'acr', 'amr', 'updated_at']);
}
