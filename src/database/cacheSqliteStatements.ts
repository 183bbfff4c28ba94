import type { Knex } from 'knex';

/** Enough for every distinct query the plugin and the scheduler make. */
const DEFAULT_MAX_STATEMENTS = 256;

/** The part of a better-sqlite3 connection and statement this module touches. */
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}
type SqliteStatement = Record<string, unknown>;

/** Calls that change how a statement runs from then on; such a statement leaves the cache. */
const MODE_CHANGES = ['safeIntegers', 'raw', 'pluck', 'expand', 'bind'];

const patched = new WeakSet<object>();

/**
 * knex's better-sqlite3 dialect compiles every query with `prepare()`, which
 * costs more than running it on a short indexed lookup. On SQLite this keeps
 * up to `maxStatements` prepared statements per connection, keyed by SQL text,
 * and reuses them. Reuse is safe: better-sqlite3 runs a statement to
 * completion synchronously, SQLite re-prepares it after a schema change, and
 * queries still go through knex's pool, so transactions are unaffected. Other
 * databases are left alone.
 */
export async function cacheSqliteStatements(
  knex: Knex,
  maxStatements = DEFAULT_MAX_STATEMENTS,
): Promise<void> {
  const client = knex.client as Knex.Client & {
    driverName?: string;
    pool?: { on(event: 'createSuccess', listener: (id: number, resource: unknown) => void): void };
  };
  if (client.driverName !== 'better-sqlite3') return;
  // Connections the pool opens later, then the one(s) it holds now.
  client.pool?.on('createSuccess', (_id, connection) => patch(connection as SqliteConnection, maxStatements));
  const connection = await client.acquireConnection();
  try {
    patch(connection as SqliteConnection, maxStatements);
  } finally {
    await client.releaseConnection(connection);
  }
}

function patch(connection: SqliteConnection, maxStatements: number): void {
  if (patched.has(connection)) return;
  patched.add(connection);
  const prepare = connection.prepare.bind(connection);
  // A Map iterates in insertion order; re-inserting on use makes it an LRU.
  const cache = new Map<string, SqliteStatement>();
  connection.prepare = (sql: string) => {
    const cached = cache.get(sql);
    if (cached) {
      cache.delete(sql);
      cache.set(sql, cached);
      return cached;
    }
    const statement = prepare(sql);
    for (const method of MODE_CHANGES) {
      const original = statement[method];
      if (typeof original !== 'function') continue;
      statement[method] = (...args: unknown[]) => {
        if (cache.get(sql) === statement) cache.delete(sql);
        return original.apply(statement, args);
      };
    }
    cache.set(sql, statement);
    if (cache.size > maxStatements) cache.delete(cache.keys().next().value as string);
    return statement;
  };
}
