// @ts-check

/**
 * Cached user info (ownership claims and the like) per signed-in user, so the
 * userinfo endpoint can answer without the sign-in resolver.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('user_info', table => {
    table.string('user_entity_ref').primary().notNullable();
    table.text('user_info', 'longtext').notNullable();
    // Renamed to `updated_at` by 20250707164600_user_created_at.
    table.timestamp('exp').notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('user_info');
};
