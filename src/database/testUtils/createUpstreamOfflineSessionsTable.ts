import type { Knex } from 'knex';

/**
 * `offline_sessions` with the columns upstream's
 * `20251020000000_offline_sessions.js` gives it (without its foreign key to
 * `oidc_clients`, which upstream 0.31 drops).
 */
export async function createUpstreamOfflineSessionsTable(knex: Knex): Promise<void> {
  await knex.schema.createTable('offline_sessions', table => {
    table.string('id').primary().notNullable();
    table.string('user_entity_ref').notNullable();
    table.string('oidc_client_id').nullable();
    table.text('token_hash').notNullable();
    table.timestamp('created_at', { useTz: true, precision: 0 }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_used_at', { useTz: true, precision: 0 }).notNullable().defaultTo(knex.fn.now());
    table.index('user_entity_ref', 'offline_sessions_user_idx');
  });
}
