// @ts-check

/**
 * The store of `express-session` (through `connect-session-knex`), used by
 * sign-in providers that keep state between the start and the callback.
 * The table and column names are the ones connect-session-knex expects.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('sessions', table => {
    table.string('sid').primary().notNullable();
    // `longtext` on MySQL, where `text` stops at 64 KiB.
    table.text('sess', 'longtext').notNullable();
    table.timestamp('expired').notNullable();
    // The sid index duplicates the primary key; it is kept because databases
    // created by upstream have it and the report must match theirs.
    table.index('sid', 'sessions_sid_idx');
    table.index('expired', 'sessions_expired_idx');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('sessions');
};
