/**
 * Row shapes of the plugin's tables, as knex reads and writes them. Column
 * names and types follow migrations/ (and upstream's schema, so a database
 * migrated by `@backstage/plugin-auth-backend` is read unchanged).
 */

/** `signing_keys`: one public JWK per signing key ever used by any instance. */
export interface DbSigningKeyRow {
  kid: string;
  /** The public JWK as JSON; private keys never reach the database. */
  key: string;
  /** Set by the database; a string on SQLite, a Date on PostgreSQL. */
  created_at: Date | string;
}

/** `user_info`: the claims issued at a user's last sign-in. */
export interface DbUserInfoRow {
  user_entity_ref: string;
  /** JSON of `{ claims: { sub, ent, ... } }`. */
  user_info: string;
  created_at: Date | string;
  updated_at: Date | string;
}

/** `sessions`: express-session records, managed by connect-session-knex. */
export interface DbSessionRow {
  sid: string;
  /** JSON of the session data. */
  sess: string;
  expired: Date | string;
}
