// @ts-check

/*
 * Authentication freshness and assurance (issue 14): ID tokens say when and
 * how the user really authenticated, not when they clicked Approve.
 *
 * - `oidc_user_sign_ins`: each user's last sign-in through a sign-in
 *   provider: when (`auth_time`, the provider's own when its ID token has
 *   one) and how (`acr`, `amr` from that ID token).
 * - `oidc_authorization_authentication`: per authorization session (which
 *   has upstream's fixed columns), what the request asked of the user's
 *   authentication (`max_age`, `prompt=login`, `acr_values`) and the
 *   authentication that approved it. Deleted with its session.
 * - `oidc_refresh_tokens` gains `acr` and `amr`, so refreshed ID tokens
 *   describe the original authentication, as `auth_time` already does
 *   (OIDC Core §12.2).
 *
 * New names only: upstream never reads them, and `down` drops exactly them.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('oidc_user_sign_ins', table => {
    table.comment('Each user’s last sign-in through a sign-in provider');
    table.string('user_entity_ref', 255).primary().notNullable();
    table.string('provider_id', 255).notNullable();
    table.timestamp('auth_time', { useTz: true }).notNullable();
    table.string('acr', 255).nullable();
    table.text('amr').nullable().comment('JSON array of RFC 8176 method names');
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('oidc_authorization_authentication', table => {
    table.comment('What an authorization request asked of the sign-in, and the one that approved it');
    table.string('session_id', 255).primary().notNullable();
    table.timestamp('requested_at', { useTz: true }).nullable();
    table.integer('max_age').nullable().comment('seconds');
    table.boolean('prompt_login').notNullable().defaultTo(false);
    table.text('acr_values').nullable().comment('space-separated');
    table.timestamp('auth_time', { useTz: true }).nullable();
    table.string('acr', 255).nullable();
    table.text('amr').nullable().comment('JSON array of RFC 8176 method names');
    table
      .foreign('session_id')
      .references('id')
      .inTable('oauth_authorization_sessions')
      .onDelete('CASCADE');
  });

  await knex.schema.alterTable('oidc_refresh_tokens', table => {
    table.string('acr', 255).nullable();
    table.text('amr').nullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('oidc_refresh_tokens', table => {
    table.dropColumn('acr');
    table.dropColumn('amr');
  });
  await knex.schema.dropTable('oidc_authorization_authentication');
  await knex.schema.dropTable('oidc_user_sign_ins');
};
