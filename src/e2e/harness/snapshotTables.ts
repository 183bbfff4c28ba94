import type { Knex } from 'knex';

async function tableNames(knex: Knex): Promise<string[]> {
  const client = String(knex.client.config.client);
  if (client.includes('sqlite')) {
    return knex('sqlite_master').where({ type: 'table' }).pluck('name');
  }
  if (client.includes('pg')) {
    return knex('pg_tables').whereRaw('schemaname = current_schema()').pluck('tablename');
  }
  return knex('information_schema.tables').whereRaw('table_schema = database()').pluck('TABLE_NAME');
}

/**
 * Every table's rows, each as JSON, sorted, except the scheduler's own
 * bookkeeping; compare two snapshots to show that rejected input changed nothing.
 */
export async function snapshotTables(knex: Knex): Promise<Record<string, string[]>> {
  const tables = await tableNames(knex);
  const out: Record<string, string[]> = {};
  for (const table of tables.filter(t => !t.startsWith('backstage_backend_tasks') && t !== 'sqlite_sequence').sort()) {
    const rows = await knex(table).select();
    out[table] = rows.map(r => JSON.stringify(r)).sort();
  }
  return out;
}
