import knexFactory, { type Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { readFirst, runChanging, runNamed, runStatement, type NamedStatement } from './namedStatement';

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

describe.each(databases.eachSupportedId())('runStatement on %s', databaseId => {
  const onPostgres = databaseId.startsWith('POSTGRES');
  let knex: Knex;
  const TABLE = 'named_statement_test';
  const insert: NamedStatement = { name: 'test_insert', sql: `insert into ${TABLE} (id, label) values (?, ?)` };
  const read: NamedStatement = { name: 'test_read', sql: `select label from ${TABLE} where id = ?` };
  const labels = async () => (await knex(TABLE).orderBy('id').select('label')).map(row => row.label);

  beforeAll(async () => {
    const shared = await databases.init(databaseId);
    knex = onPostgres
      ? knexFactory({ client: 'pg', connection: shared.client.config.connection, pool: { min: 1, max: 1 } })
      : shared;
    await knex.schema.dropTableIfExists(TABLE);
    await knex.schema.createTable(TABLE, table => {
      table.integer('id').primary();
      table.string('label');
    });
  });
  beforeEach(async () => {
    await knex(TABLE).delete();
  });
  afterAll(async () => {
    await knex.schema.dropTableIfExists(TABLE);
    if (onPostgres) await knex.destroy();
  });

  it('runs the text with its bindings, as often as asked', async () => {
    await runStatement(knex, insert, [1, 'one']);
    await runStatement(knex, insert, [2, 'two']);
    expect(await labels()).toEqual(['one', 'two']);
  });

  it('reads the first row on every database, or nothing', async () => {
    await runStatement(knex, insert, [8, 'eight']);
    expect(await readFirst(knex, read, [8])).toEqual({ label: 'eight' });
    expect(await readFirst(knex, read, [9])).toBeUndefined();
  });

  it('is seen by knex like any query (statement counts, query logs)', async () => {
    const seen: string[] = [];
    const listener = (query: { sql: string }) => seen.push(query.sql);
    knex.on('query', listener);
    try {
      await runStatement(knex, insert, [3, 'three']);
    } finally {
      knex.off('query', listener);
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain(`insert into ${TABLE}`);
  });

  it('runs inside a transaction on its connection', async () => {
    await knex
      .transaction(async trx => {
        await runStatement(trx, insert, [4, 'four']);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await labels()).toEqual([]);
  });

  it('on a failure, gives the database’s error and the statement in the message', async () => {
    await runStatement(knex, insert, [5, 'five']);
    // Read as text: better-sqlite3 builds its errors with the class of the
    // first test file that loaded it in this worker, which jest's toThrow
    // does not count as an Error in another file.
    const failure = await runStatement(knex, insert, [5, 'again']).then(
      () => 'no error',
      (error: unknown) => String((error as Error).message),
    );
    expect(failure).toMatch(/insert into named_statement_test .*(UNIQUE|duplicate)/i);
    expect(await labels()).toEqual(['five']);
  });

  it('counts the rows a change changed, on every database and in a transaction', async () => {
    const relabel: NamedStatement = { name: 'test_relabel', sql: `update ${TABLE} set label = ? where id = ? and label = ?` };
    await runStatement(knex, insert, [10, 'ten']);
    await runStatement(knex, insert, [11, 'ten']);
    expect(await runChanging(knex, relabel, ['done', 10, 'ten'])).toBe(1);
    // The same condition again finds nothing to change: the use-once race's loser.
    expect(await runChanging(knex, relabel, ['done', 10, 'ten'])).toBe(0);
    expect(await runChanging(knex, relabel, ['done', 12, 'ten'])).toBe(0);
    const inTransaction = await knex.transaction(trx => runChanging(trx, relabel, ['done', 11, 'ten']));
    expect(inTransaction).toBe(1);
    expect(await labels()).toEqual(['done', 'done']);
  });

  if (!onPostgres) return;

  it('gives the driver’s rows and has PostgreSQL keep the statement prepared', async () => {
    await runStatement(knex, insert, [6, 'six']);
    expect(((await runStatement(knex, read, [6])) as { rows: unknown[] }).rows).toEqual([{ label: 'six' }]);
    const prepared = (await knex.raw('select name from pg_prepared_statements')).rows.map(
      (row: { name: string }) => row.name,
    );
    expect(prepared).toEqual(expect.arrayContaining(['portal_oidc_test_insert', 'portal_oidc_test_read']));
  });

  it('runs a statement the server lost unnamed, once, and unnamed from then on', async () => {
    await runStatement(knex, read, [7]);
    await knex.raw('deallocate all');
    await runStatement(knex, insert, [7, 'seven']);
    expect(((await runStatement(knex, read, [7])) as { rows: unknown[] }).rows).toEqual([{ label: 'seven' }]);
    expect((await knex.raw('select name from pg_prepared_statements')).rows).toEqual([]);
  });
});
