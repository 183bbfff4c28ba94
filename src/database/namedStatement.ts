import type { Knex } from 'knex';

/**
 * Databases on which named statements failed once (for example behind a
 * connection pooler in transaction mode that does not keep them); from
 * then on their statements run unnamed.
 */
const unnamedOnly = new WeakSet<Knex>();

/** PostgreSQL's errors for a prepared statement the session does not have, or has twice. */
const LOST_STATEMENT_CODES = new Set(['26000', '42P05']);

/**
 * Runs a hot statement of fixed text as a named (prepared) statement on
 * PostgreSQL (issue 15): node-postgres parses it once per connection, and
 * the server plans it from the cached parse instead of parsing and planning
 * the text on every call, which for the joined reads of the token
 * exchange was most of the statement's cost. `build` must produce the same
 * SQL text every time for one `name`.
 *
 * Should the server not know the statement (a pooler that hands each
 * transaction another server connection, or a `DEALLOCATE` behind the
 * driver's back), the statement did not run: it is sent again unnamed, and
 * this database's statements stay unnamed from then on. Other databases
 * run `build` as it is.
 */
export async function runNamed<T>(db: Knex, name: string, build: () => Knex.QueryBuilder | Knex.Raw): Promise<T> {
  if (db.client.dialect !== 'postgresql') return (await build()) as T;
  return namedUnlessLost(
    db,
    async () => (await build().options({ name: prefixed(name) })) as T,
    async () => (await build()) as T,
  );
}

/**
 * PostgreSQL: runs `named`, unless this database's statements went unnamed
 * or the server does not know the statement (then nothing ran), in which
 * case `unnamed` runs and the database stays unnamed from then on.
 */
async function namedUnlessLost<T>(db: Knex, named: () => Promise<T>, unnamed: () => Promise<T>): Promise<T> {
  if (unnamedOnly.has(db)) return unnamed();
  try {
    return await named();
  } catch (error) {
    if (!isLostStatement(error)) throw error;
    unnamedOnly.add(db);
    return unnamed();
  }
}

/** SQL text with `?` placeholders, run as a named statement on PostgreSQL. */
export interface NamedStatement {
  readonly name: string;
  readonly sql: string;
}

/** The same text with PostgreSQL's `$n` placeholders, worked out once per statement. */
const nativeSql = new WeakMap<NamedStatement, string>();

/**
 * Runs a {@link NamedStatement} straight on a pooled connection through
 * knex's client (issue 15): no query builder is compiled and no runner is
 * made per call (a one-row insert on PostgreSQL: ~95 µs of client CPU
 * through the builder, ~65 µs this way). On PostgreSQL it runs named, like
 * {@link runNamed}; on SQLite unnamed, where the connection keeps the
 * prepared statement anyway (see cacheSqliteStatements). It still goes
 * through knex's pool, `query` events and error messages, and inside a
 * transaction runs on its connection. Gives the driver's result: `{ rows }`
 * on PostgreSQL; the rows of a read, or `{ changes }` of a write, on
 * SQLite. MySQL runs the text with `db.raw` (`[rows, fields]`).
 */
export async function runStatement(db: Knex, statement: NamedStatement, bindings: readonly Knex.Value[]): Promise<unknown> {
  return (await execute(db, statement, bindings)).response;
}

/** The number of rows a changing {@link NamedStatement} (UPDATE, DELETE) changed, whatever the database. */
export async function runChanging(db: Knex, statement: NamedStatement, bindings: readonly Knex.Value[]): Promise<number> {
  const { response, context } = await execute(db, statement, bindings, 'update');
  switch (db.client.dialect) {
    case 'postgresql':
      return (response as { rowCount: number }).rowCount;
    case 'sqlite3':
      return (context as { changes: number }).changes;
    default:
      return (response as [{ affectedRows: number }])[0].affectedRows;
  }
}

interface Executed {
  response: unknown;
  /** SQLite: `{ changes }` of a statement run as a change. */
  context?: unknown;
}

async function execute(
  db: Knex,
  statement: NamedStatement,
  bindings: readonly Knex.Value[],
  method?: 'update',
): Promise<Executed> {
  const dialect = db.client.dialect;
  // knex's SQLite drivers run a query of method `update` for its change count.
  if (dialect === 'sqlite3') return onConnection(db, { sql: statement.sql, bindings, method, options: {} });
  if (dialect !== 'postgresql') return { response: await db.raw(statement.sql, bindings) };
  const sql = postgresText(db, statement);
  return namedUnlessLost(
    db,
    () => onConnection(db, { sql, bindings, options: { name: prefixed(statement.name) } }),
    () => onConnection(db, { sql, bindings, options: {} }),
  );
}

function postgresText(db: Knex, statement: NamedStatement): string {
  let sql = nativeSql.get(statement);
  if (sql === undefined) {
    sql = db.client.positionBindings(statement.sql) as string;
    nativeSql.set(statement, sql);
  }
  return sql;
}

interface QueryObject {
  /** In the dialect's own placeholders. */
  sql: string;
  bindings: readonly Knex.Value[];
  method?: string;
  options: object;
}

/** Runs a query on a connection of `db`'s pool (or its transaction's) through knex's client. */
async function onConnection(db: Knex, query: QueryObject): Promise<Executed> {
  const client = db.client as Knex.Client & { query(connection: unknown, query: QueryObject): Promise<Executed> };
  const connection = await client.acquireConnection();
  try {
    return await client.query(connection, query);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * The rows a reading {@link NamedStatement} gives, whatever the database:
 * `{ rows }` from PostgreSQL, `[rows, fields]` from MySQL, rows from SQLite.
 */
export async function readRows<Row>(db: Knex, statement: NamedStatement, bindings: readonly Knex.Value[]): Promise<Row[]> {
  const result = await runStatement(db, statement, bindings);
  if (db.client.dialect === 'postgresql') return (result as { rows: Row[] }).rows;
  if (db.client.dialect === 'mysql' || db.client.dialect === 'mysql2') return (result as [Row[]])[0];
  return result as Row[];
}

/** The first row of {@link readRows}. */
export async function readFirst<Row>(
  db: Knex,
  statement: NamedStatement,
  bindings: readonly Knex.Value[],
): Promise<Row | undefined> {
  return (await readRows<Row>(db, statement, bindings))[0];
}

function prefixed(name: string): string {
  return `portal_oidc_${name}`;
}

function isLostStatement(error: unknown): boolean {
  return LOST_STATEMENT_CODES.has((error as { code?: unknown })?.code as string);
}
