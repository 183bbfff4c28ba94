// @ts-check

/**
 * Authorization sessions may belong to clients that are not rows of
 * `oidc_clients` (clients from app-config, or identified by a client ID
 * metadata document), so the foreign key to `oidc_clients` goes. Upstream
 * 0.27+ ships the same change under this file name, so a database it
 * migrated already has it recorded and this step is skipped there.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('oauth_authorization_sessions', table => {
    table.dropForeign(['client_id']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  // Sessions of clients outside oidc_clients cannot satisfy the restored key.
  await knex('oauth_authorization_sessions')
    .whereNotIn('client_id', knex('oidc_clients').select('client_id'))
    .delete();
  await knex.schema.alterTable('oauth_authorization_sessions', table => {
    table.foreign('client_id').references('client_id').inTable('oidc_clients');
  });
};
