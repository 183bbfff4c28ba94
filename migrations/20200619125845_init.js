// @ts-check

/**
 * The key store of the identity service: one row per signing key that is in
 * use or was recently used to issue Backstage tokens.
 *
 * `created_at` starts out without a time zone; the next two migrations move
 * it to `timestamptz`, and `key` starts as varchar(255) until
 * 20220522100910_key_field_size widens it. Both mirror the history that
 * upstream `@backstage/plugin-auth-backend` databases went through.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('signing_keys', table => {
    table.string('kid').primary().notNullable();
    table
      .timestamp('created_at', { useTz: false, precision: 0 })
      .notNullable()
      .defaultTo(knex.fn.now());
    table.string('key').notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  // Upstream dropped a table named `auth_keystore` here, which never existed.
  await knex.schema.dropTable('signing_keys');
};
