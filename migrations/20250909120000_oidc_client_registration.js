// @ts-check

/**
 * The OIDC provider's tables: registered clients (RFC 7591), authorization
 * sessions (one per authorization request, RFC 6749 §4.1.1) and the
 * authorization codes issued from them (RFC 6749 §4.1.2).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('oidc_clients', table => {
    table.string('client_id').primary().notNullable();
    table.string('client_secret').notNullable();
    table.string('client_name').notNullable();
    // JSON arrays; `longtext` on MySQL so long redirect URI lists fit.
    table.text('response_types', 'longtext').notNullable();
    table.text('grant_types', 'longtext').notNullable();
    table.text('redirect_uris', 'longtext').notNullable();
    table.text('scope').nullable();
    table.text('metadata', 'longtext').nullable();
  });

  await knex.schema.createTable('oauth_authorization_sessions', table => {
    table.string('id').primary().notNullable();
    table.string('client_id').notNullable();
    table.string('user_entity_ref').nullable();
    table.text('redirect_uri', 'longtext').notNullable();
    table.text('scope').nullable();
    // Widened to text by 20251118120000_oauth_state_text.
    table.string('state').nullable();
    table.string('response_type').notNullable();
    table.string('code_challenge').nullable();
    table.string('code_challenge_method').nullable();
    table.string('nonce').nullable();
    // `text` with a CHECK constraint on PostgreSQL, a native ENUM on MySQL.
    table
      .enum('status', ['pending', 'approved', 'rejected', 'expired'])
      .defaultTo('pending');
    table.timestamp('expires_at', { useTz: true, precision: 0 }).notNullable();
    table.foreign('client_id').references('client_id').inTable('oidc_clients');
    table.index(['client_id', 'user_entity_ref']);
    table.index(['status', 'expires_at']);
  });

  await knex.schema.createTable('oidc_authorization_codes', table => {
    table.string('code').primary().notNullable();
    table.string('session_id').notNullable();
    table.timestamp('expires_at', { useTz: true, precision: 0 }).notNullable();
    table.boolean('used').defaultTo(false);
    table
      .foreign('session_id')
      .references('id')
      .inTable('oauth_authorization_sessions')
      .onDelete('CASCADE');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  // Children first, so no foreign key points at a dropped table.
  await knex.schema.dropTable('oidc_authorization_codes');
  await knex.schema.dropTable('oauth_authorization_sessions');
  await knex.schema.dropTable('oidc_clients');
};
