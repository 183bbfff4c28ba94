// @ts-check

/**
 * Re-applies 20210326100300_timestamptz. One released version of that file
 * skipped PostgreSQL by mistake, so databases created with it still have a
 * `created_at` without time zone; upstream shipped this file to repair them,
 * and we keep it so those databases end up with the same schema as all others.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  if (String(knex.client.config.client).includes('sqlite')) {
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

/**
 * Nothing to undo: this step runs after 20210326100300_timestamptz, so the
 * column it starts from already has a time zone. (Upstream's down removed the
 * time zone here, leaving the schema different from the one its up started
 * from; their SQL report flags it as "Failed to migrate down".)
 *
 * @param {import('knex').Knex} _knex
 */
exports.down = async function down(_knex) {};
