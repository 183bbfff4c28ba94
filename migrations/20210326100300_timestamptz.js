// @ts-check

/**
 * Gives `signing_keys.created_at` a time zone, so key ages are computed the
 * same way whatever the server's time zone is.
 *
 * SQLite has no time zone types (and no ALTER COLUMN), so it is left alone.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  if (isSqlite(knex)) {
    return;
  }
  await knex.schema.alterTable('signing_keys', table => {
    table
      .timestamp('created_at', { useTz: true, precision: 0 })
      .notNullable()
      .defaultTo(knex.fn.now())
      .alter({ alterType: true });
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  if (isSqlite(knex)) {
    return;
  }
  await knex.schema.alterTable('signing_keys', table => {
    table
      .timestamp('created_at', { useTz: false, precision: 0 })
      .notNullable()
      .defaultTo(knex.fn.now())
      .alter({ alterType: true });
  });
};

/** @param {import('knex').Knex} knex */
function isSqlite(knex) {
  return String(knex.client.config.client).includes('sqlite');
}
