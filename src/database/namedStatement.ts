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
  if (db.client.dialect !== 'postgresql' || unnamedOnly.has(db)) return (await build()) as T;
  try {
    return (await build().options({ name: `portal_oidc_${name}` })) as T;
  } catch (error) {
    if (!LOST_STATEMENT_CODES.has((error as { code?: unknown })?.code as string)) throw error;
    unnamedOnly.add(db);
    return (await build()) as T;
  }
}
