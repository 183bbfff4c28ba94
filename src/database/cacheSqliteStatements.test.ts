import knexFactory, { type Knex } from 'knex';
import { cacheSqliteStatements } from './cacheSqliteStatements';

describe('cacheSqliteStatements', () => {
  let knex: Knex;
  let prepared: string[];

  beforeEach(async () => {
    knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    await knex.schema.createTable('items', table => {
      table.string('id').primary();
      table.integer('n');
    });
    // Record what reaches better-sqlite3's own prepare, below the cache.
    const connection = (await knex.client.acquireConnection()) as { prepare(sql: string): unknown };
    const prepare = connection.prepare.bind(connection);
    prepared = [];
    connection.prepare = (sql: string) => {
      prepared.push(sql);
      return prepare(sql);
    };
    await knex.client.releaseConnection(connection);
  });

  afterEach(() => knex.destroy());

  const item = (id: string) => knex('items').where({ id }).first();

  it('prepares a repeated query once and still returns fresh results', async () => {
    await cacheSqliteStatements(knex);
    await knex('items').insert({ id: 'a', n: 1 });
    await knex('items').insert({ id: 'b', n: 2 });
    expect(await item('a')).toEqual({ id: 'a', n: 1 });
    expect(await item('b')).toEqual({ id: 'b', n: 2 });
    await knex('items').where({ id: 'a' }).update({ n: 5 });
    expect(await item('a')).toEqual({ id: 'a', n: 5 });
    expect(prepared.filter(sql => sql.startsWith('select'))).toHaveLength(1);
    expect(prepared.filter(sql => sql.startsWith('insert'))).toHaveLength(1);
  });

  it('sees schema changes made after a statement was cached', async () => {
    await cacheSqliteStatements(knex);
    await knex('items').insert({ id: 'a', n: 1 });
    expect(await knex('items').select('*')).toEqual([{ id: 'a', n: 1 }]);
    await knex.schema.alterTable('items', table => table.string('label').defaultTo('x'));
    expect(await knex('items').select('*')).toEqual([{ id: 'a', n: 1, label: 'x' }]);
  });

  it('keeps transactions intact: a rolled-back write stays undone', async () => {
    await cacheSqliteStatements(knex);
    await knex
      .transaction(async trx => {
        await trx('items').insert({ id: 'a', n: 1 });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await knex('items').insert({ id: 'b', n: 2 });
    expect(await knex('items').select('id')).toEqual([{ id: 'b' }]);
  });

  it("does not carry one query's safeIntegers option over to the next", async () => {
    await cacheSqliteStatements(knex);
    await knex('items').insert({ id: 'a', n: 1 });
    const big = await knex('items').where({ id: 'a' }).first().options({ safeIntegers: true });
    expect(big.n).toBe(BigInt(1));
    expect((await item('a')).n).toBe(1);
  });

  it('keeps at most the given number of statements', async () => {
    await cacheSqliteStatements(knex, 2);
    await knex('items').insert({ id: 'a', n: 1 });
    for (const column of ['id', 'n', 'id', 'n']) await knex('items').first(column);
    expect(prepared.filter(sql => sql.startsWith('select'))).toHaveLength(2);
    // A third query pushes out the least recently used one.
    await knex('items').first('*');
    await knex('items').first('id');
    await knex('items').first('n');
    expect(prepared.filter(sql => sql.startsWith('select'))).toHaveLength(5);
  });

  it('leaves other databases alone', async () => {
    const pg = knexFactory({ client: 'pg', connection: 'postgresql://127.0.0.1:1/none' });
    await expect(cacheSqliteStatements(pg)).resolves.toBeUndefined();
    await pg.destroy();
  });
});
