// @ts-check

/**
 * Widens `oauth_authorization_sessions.state` to `text`: RFC 6749 §4.1.1 puts
 * no limit on `state`, and clients that pack JSON into it sent more than 255
 * characters, which failed the authorization request.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('oauth_authorization_sessions', table => {
    table.text('state', 'longtext').nullable().alter();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  // A session whose state no longer fits could only be completed with a
  // truncated state, which the client would reject; drop those sessions.
  const length = String(knex.client.config.client).includes('mysql')
    ? 'CHAR_LENGTH'
    : 'LENGTH';
  await knex('oauth_authorization_sessions')
    .whereRaw(`${length}(??) > 255`, ['state'])
    .delete();
  await knex.schema.alterTable('oauth_authorization_sessions', table => {
    table.string('state').nullable().alter();
  });
};
