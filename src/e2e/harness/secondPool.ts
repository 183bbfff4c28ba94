import knexFactory, { type Knex } from 'knex';

/**
 * A second connection pool to the same database, as another backend instance
 * of the same deployment would have. In-memory SQLite exists only inside its
 * one connection, so there the pool is shared.
 */
export function secondPool(knex: Knex): { knex: Knex; close(): Promise<void> } {
  const config = knex.client.config as Knex.Config;
  if (String(config.client).includes('sqlite')) {
    return { knex, close: async () => {} };
  }
  const other = knexFactory({ client: config.client, connection: config.connection });
  return { knex: other, close: () => other.destroy() };
}
