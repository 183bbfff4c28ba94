import knexFactory, { type Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { runNamed } from './namedStatement';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('runNamed on %s', databaseId => {
  const onPostgres = databaseId.startsWith('POSTGRES');
  let knex: Knex;

  beforeAll(async () => {
    const shared = await databases.init(databaseId);
    // One connection, so what the server holds for it can be looked at.
    knex = onPostgres
      ? knexFactory({ client: 'pg', connection: shared.client.config.connection, pool: { min: 1, max: 1 } })
      : shared;
  });
  afterAll(async () => {
    if (onPostgres) await knex.destroy();
  });

  const preparedNames = async () =>
    ((await knex.raw('select name from pg_prepared_statements')).rows as { name: string }[]).map(
      row => row.name,
    );
  const double = (value: number) => () => knex.raw('select ? * 2 as doubled', [value]);
  /** The first row of a raw result: `{ rows }` on PostgreSQL, `[rows, fields]` on MySQL, rows on SQLite. */
  const doubled = (result: unknown) => {
    if (onPostgres) return Number((result as { rows: { doubled: unknown }[] }).rows[0].doubled);
    const rows = databaseId.startsWith('MYSQL') ? (result as unknown[][])[0] : (result as unknown[]);
    return Number((rows[0] as { doubled: unknown }).doubled);
  };

  it('gives the same answers as the statement run plainly', async () => {
    expect(doubled(await runNamed(knex, 'double', double(2)))).toBe(4);
    expect(doubled(await runNamed(knex, 'double', double(21)))).toBe(42);
  });

  if (!onPostgres) return;

  it('has PostgreSQL keep the statement prepared, under the plugin’s prefix', async () => {
    await runNamed(knex, 'double', double(1));
    expect(await preparedNames()).toContain('portal_oidc_double');
  });

  it('runs a statement the server lost unnamed, once, and unnamed from then on', async () => {
    await runNamed(knex, 'double', double(1));
    // What a transaction-mode pooler does to the driver: the server session
    // no longer has the statement the driver believes it prepared.
    await knex.raw('deallocate all');
    expect(doubled(await runNamed(knex, 'double', double(5)))).toBe(10);
    expect(doubled(await runNamed(knex, 'other', double(6)))).toBe(12);
    expect(await preparedNames()).toEqual([]);
  });
});
