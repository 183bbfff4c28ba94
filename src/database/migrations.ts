import type { Knex } from 'knex';

/** Owned by the foundation work (issue 2). */
export async function applyDatabaseMigrations(_knex: Knex): Promise<void> {}
