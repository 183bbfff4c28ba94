// @ts-check

/**
 * Records when a user's info row was first written, and names the old `exp`
 * column for what it holds: the time of the last update.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('user_info', table => {
    table.renameColumn('exp', 'updated_at');
    // Nullable first, so existing rows can be back-filled before the
    // NOT NULL constraint is added.
    table.timestamp('created_at').nullable();
  });
  await knex('user_info').update({ created_at: knex.fn.now() });
  await knex.schema.alterTable('user_info', table => {
    table.timestamp('created_at').notNullable().defaultTo(knex.fn.now()).alter();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('user_info', table => {
    table.dropColumn('created_at');
    table.renameColumn('updated_at', 'exp');
  });
};
