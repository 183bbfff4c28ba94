import knexFactory, { type Knex } from 'knex';
import { createServer } from 'node:net';
import { isDatabaseUnavailable } from './isDatabaseUnavailable';

const pgUrl = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING;
const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} };

async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** A knex for a loopback port where no real PostgreSQL answers. */
function knexOnPort(port: number, acquireConnectionTimeout: number): Knex {
  return knexFactory({
    client: 'pg',
    connection: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout,
    log: quiet,
  });
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise(resolve => server.close(resolve));
  return port;
}

describe('isDatabaseUnavailable', () => {
  it('recognises a refused connection from knex + pg', async () => {
    const port = await closedPort();
    const knex = knexOnPort(port, 2000);
    try {
      const error = await caught(() => knex.raw('select 1'));
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      await knex.destroy();
    }
  });

  it('recognises a knex acquire timeout', async () => {
    // A server that accepts TCP connections and never answers.
    const sockets: import('node:net').Socket[] = [];
    const server = createServer(socket => sockets.push(socket));
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const knex = knexOnPort(port, 300);
    try {
      const error = await caught(() => knex.raw('select 1'));
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      sockets.forEach(s => s.destroy());
      await knex.destroy();
      await new Promise(resolve => server.close(resolve));
    }
  });

  (pgUrl ? describe : describe.skip)('on a real PostgreSQL', () => {
    let admin: Knex;
    beforeAll(() => {
      admin = knexFactory({ client: 'pg', connection: pgUrl, pool: { min: 0, max: 2 } });
    });
    afterAll(() => admin.destroy());

    it('recognises a connection the server terminated (57P01)', async () => {
      const victim = knexFactory({ client: 'pg', connection: pgUrl, pool: { min: 0, max: 1 } });
      let error: unknown;
      try {
        await victim
          .transaction(async trx => {
            const { rows } = await trx.raw('select pg_backend_pid() as pid');
            await admin.raw('select pg_terminate_backend(?)', [rows[0].pid]);
            error = await caught(() => trx.raw('select 1'));
          })
          .catch(() => undefined); // the rollback fails too; only the query error matters
        expect(error).toBeDefined();
        expect(isDatabaseUnavailable(error)).toBe(true);
      } finally {
        await victim.destroy();
      }
    });

    it('does not mistake ordinary query errors for an outage', async () => {
      const syntax = await caught(() => admin.raw('selec 1'));
      const missing = await caught(() => admin.raw('select * from no_such_table_here'));
      expect(isDatabaseUnavailable(syntax)).toBe(false);
      expect(isDatabaseUnavailable(missing)).toBe(false);
    });
  });

  it('looks through causes and aggregate errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    expect(isDatabaseUnavailable(new AggregateError([refused]))).toBe(true);
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: refused }))).toBe(true);
  });

  it.each([
    new TypeError("Cannot read properties of undefined (reading 'x')"),
    Object.assign(new Error('duplicate key'), { code: '23505' }),
    Object.assign(new Error('SQLITE_CONSTRAINT'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }),
    'a string',
    undefined,
  ])('treats %p as a bug, not an outage', error => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
