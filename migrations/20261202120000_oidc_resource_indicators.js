// @ts-check

/**
 * Resource indicators (RFC 8707) for resource servers outside Backstage
 * (issue 14). A grant for one is bound to it: the authorization request's
 * resource is kept beside its session (upstream's sessions table keeps its
 * exact shape), and refresh tokens and device requests carry theirs, so a
 * token is only ever minted for the resource the user approved.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('oidc_authorization_resources', table => {
    table.comment('The resource server an authorization session asked for (RFC 8707)');
    table.string('session_id', 255).primary().notNullable();
    table.text('resource').notNullable();
  });
  await knex.schema.alterTable('oidc_refresh_tokens', table => {
    table.text('resource').nullable().comment('Resource server the family is bound to, if any');
  });
  await knex.schema.alterTable('oidc_device_codes', table => {
    table.text('resource').nullable().comment('Resource server the request is for, if any');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('oidc_device_codes', table => {
    table.dropColumn('resource');
  });
  await knex.schema.alterTable('oidc_refresh_tokens', table => {
    table.dropColumn('resource');
  });
  await knex.schema.dropTable('oidc_authorization_resources');
};
