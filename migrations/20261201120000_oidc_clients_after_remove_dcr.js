// @ts-check

/**
 * Upstream 0.31.0's `20261030120000_remove_dcr.js` drops `oidc_clients`
 * (upstream removed Dynamic Client Registration). This plugin keeps DCR, so
 * a database taken over from upstream 0.31 gets the table back, exactly as
 * `20250909120000_oidc_client_registration.js` creates it (and empty: the
 * registrations upstream deleted are gone). Everywhere else the table exists
 * and this does nothing.
 */

const REMOVE_DCR = '20261030120000_remove_dcr.js';

/**
 * Whether upstream's migration that drops the table ran on this database.
 *
 * @param {import('knex').Knex} knex
 */
async function upstreamRemovedDcr(knex) {
  const row = await knex('knex_migrations').where({ name: REMOVE_DCR }).first();
  return row !== undefined;
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  if (await knex.schema.hasTable('oidc_clients')) return;
  await knex.schema.createTable('oidc_clients', table => {
    table.string('client_id').primary().notNullable();
    table.string('client_secret').notNullable();
    table.string('client_name').notNullable();
    table.text('response_types', 'longtext').notNullable();
    table.text('grant_types', 'longtext').notNullable();
    table.text('redirect_uris', 'longtext').notNullable();
    table.text('scope').nullable();
    table.text('metadata', 'longtext').nullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  // The table was created by `up` only where upstream had dropped it.
  if ((await upstreamRemovedDcr(knex)) && (await knex.schema.hasTable('oidc_clients'))) {
    await knex.schema.dropTable('oidc_clients');
  }
};
