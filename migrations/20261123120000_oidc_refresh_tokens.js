// @ts-check

/*
 * Refresh tokens of the OIDC provider (RFC 6749 §6), with rotation families.
 * The table name is new (`oidc_refresh_tokens`): upstream 0.27+ creates
 * `offline_sessions`, and a database touched by it must still be adopted.
 *
 * `token_hash` is the SHA-256 of the token (256 random bits); the token
 * itself is never stored. Every rotation inserts a row in the same
 * `family_id` and marks its parent `rotated`; presenting a rotated token
 * revokes the family (RFC 9700 §4.14.2).
 */

/**
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('oidc_refresh_tokens', table => {
    table.comment('Refresh tokens (hashes only) and their rotation families');
    table.string('token_hash', 255).primary().notNullable();
    table.string('family_id', 255).notNullable();
    table.string('client_id', 255).notNullable();
    table.string('user_entity_ref', 255).notNullable();
    table.text('scope').nullable();
    table
      .string('status', 32)
      .notNullable()
      .defaultTo('active')
      .comment('active | rotated | revoked');
    table.timestamp('auth_time', { useTz: true }).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable().comment('idle expiry');
    table
      .timestamp('family_expires_at', { useTz: true })
      .notNullable()
      .comment('absolute expiry of the rotation family');
    table.index(['family_id'], 'oidc_refresh_tokens_family_id_idx');
    table.index(['user_entity_ref', 'status'], 'oidc_refresh_tokens_user_status_idx');
    table.index(['expires_at'], 'oidc_refresh_tokens_expires_at_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('oidc_refresh_tokens');
};
