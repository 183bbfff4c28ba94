/*
 * Device authorization grant (RFC 8628) storage. Names are new (`oidc_device_*`)
 * so they never collide with tables a later upstream release creates.
 *
 * Only hashes of the secrets are kept: `device_code_hash` is the SHA-256 of
 * the device code (256 random bits), `user_code_hash` a keyed HMAC of the
 * normalized user code whose key version sits next to it. The HMAC keys live
 * in `oidc_device_code_keys`, one random key per version, so every instance
 * sharing the database hashes alike.
 */

// @ts-check

/**
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('oidc_device_code_keys', table => {
    table.comment('HMAC keys for user codes, one per key version');
    table.string('key_version', 64).primary().notNullable();
    table.text('secret').notNullable().comment('Random key, base64url');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('oidc_device_codes', table => {
    table.comment('Pending and decided device authorization requests (RFC 8628)');
    table.string('device_code_hash', 255).primary().notNullable();
    table.string('user_code_hash', 255).notNullable().unique();
    table.string('user_code_key_version', 64).notNullable();
    table.string('client_id', 255).notNullable();
    table.text('scope').nullable();
    table
      .string('status', 32)
      .notNullable()
      .defaultTo('pending')
      .comment('pending | approved | denied | consumed');
    table.string('user_entity_ref', 255).nullable();
    table.integer('interval_seconds').notNullable();
    table.timestamp('last_polled_at', { useTz: true }).nullable();
    table.string('request_ip', 64).nullable();
    table.text('request_user_agent').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.timestamp('decided_at', { useTz: true }).nullable();
    table.index(['expires_at'], 'oidc_device_codes_expires_at_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('oidc_device_codes');
  await knex.schema.dropTable('oidc_device_code_keys');
};
