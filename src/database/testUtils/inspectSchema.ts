import type { Knex } from 'knex';
import type { ColumnShape, IndexShape, SchemaShape, TableShape } from './sqlReportSchema';

// The report script owns the PostgreSQL introspection; the tests reuse it so
// report.sql.md and the tests can never disagree about what a schema is.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sqlReport = require('../../../scripts/sql-report.js') as {
  readPostgresSchema(knex: Knex): Promise<Record<string, PgTable>>;
  IGNORED_TABLES: Set<string>;
};

interface PgTable {
  columns: Record<string, ColumnShape & { precision?: number }>;
  indices: Record<string, IndexShape>;
  constraints: Record<string, string>;
}

export type Dialect = 'pg' | 'sqlite' | 'mysql';

export function dialectOf(knex: Knex): Dialect {
  const client = String(knex.client.config.client);
  if (client.includes('sqlite')) return 'sqlite';
  if (client.includes('mysql')) return 'mysql';
  return 'pg';
}

/**
 * Everything the dialect tells about the plugin's tables (knex's own tables
 * left out): enough to notice a down migration that loses a column, a type,
 * a default, an index or a foreign key.
 */
export async function inspectSchema(knex: Knex): Promise<SchemaShape> {
  switch (dialectOf(knex)) {
    case 'sqlite':
      return inspectSqlite(knex);
    case 'mysql':
      return inspectMysql(knex);
    default:
      return inspectPostgres(knex);
  }
}

async function inspectPostgres(knex: Knex): Promise<SchemaShape> {
  const tables = await sqlReport.readPostgresSchema(knex);
  const schema: SchemaShape = {};
  for (const [name, table] of Object.entries(tables)) {
    const columns: Record<string, ColumnShape> = {};
    for (const [columnName, { precision, ...column }] of Object.entries(table.columns)) {
      columns[columnName] = {
        ...column,
        ...(precision === undefined ? {} : { detail: `precision ${precision}` }),
      };
    }
    schema[name] = { columns, indices: table.indices, constraints: table.constraints };
  }
  return schema;
}

async function inspectSqlite(knex: Knex): Promise<SchemaShape> {
  const tableRows: { name: string }[] = await knex('sqlite_master')
    .where({ type: 'table' })
    .whereNot('name', 'like', 'sqlite_%')
    .select('name');
  const schema: SchemaShape = {};
  for (const { name } of tableRows) {
    if (sqlReport.IGNORED_TABLES.has(name)) continue;
    const table: TableShape = { columns: {}, indices: {}, constraints: {} };
    const columns = await knex.raw('PRAGMA table_info(??)', [name]);
    for (const column of columns) {
      table.columns[column.name] = {
        type: String(column.type).toLowerCase(),
        nullable: column.notnull === 0,
        default: column.dflt_value ?? undefined,
      };
    }
    const indices = await knex.raw('PRAGMA index_list(??)', [name]);
    for (const index of indices) {
      const parts = await knex.raw('PRAGMA index_info(??)', [index.name]);
      // The primary key's index is named sqlite_autoindex_<table>_N by
      // SQLite itself; PostgreSQL's name for it is <table>_pkey.
      const primary = index.origin === 'pk';
      table.indices[primary ? `${name}_pkey` : index.name] = {
        columns: [...parts].sort((a, b) => a.seqno - b.seqno).map(p => p.name),
        unique: index.unique === 1,
        primary,
      };
    }
    const foreignKeys = await knex.raw('PRAGMA foreign_key_list(??)', [name]);
    for (const fk of foreignKeys) {
      const definition = `FOREIGN KEY (${fk.from}) REFERENCES ${fk.table}(${fk.to}) ON DELETE ${fk.on_delete}`;
      table.constraints![definition] = definition;
    }
    schema[name] = table;
  }
  return schema;
}

async function inspectMysql(knex: Knex): Promise<SchemaShape> {
  const [columns] = await knex.raw(
    `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,
            CHARACTER_MAXIMUM_LENGTH, COLUMN_DEFAULT, EXTRA
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`,
  );
  const [indices] = await knex.raw(
    `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
      ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
  );
  const [foreignKeys] = await knex.raw(
    `SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME,
            k.REFERENCED_COLUMN_NAME, r.DELETE_RULE
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
      WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL`,
  );
  const schema: SchemaShape = {};
  const tableFor = (name: string) => (schema[name] ??= { columns: {}, indices: {}, constraints: {} });
  for (const c of columns) {
    if (sqlReport.IGNORED_TABLES.has(c.TABLE_NAME)) continue;
    tableFor(c.TABLE_NAME).columns[c.COLUMN_NAME] = {
      type: c.DATA_TYPE,
      nullable: c.IS_NULLABLE === 'YES',
      maxLength: c.CHARACTER_MAXIMUM_LENGTH === null ? undefined : Number(c.CHARACTER_MAXIMUM_LENGTH),
      default: c.COLUMN_DEFAULT ?? undefined,
      detail: `${c.COLUMN_TYPE} ${c.EXTRA}`.trim(),
    };
  }
  for (const i of indices) {
    if (sqlReport.IGNORED_TABLES.has(i.TABLE_NAME)) continue;
    const primary = i.INDEX_NAME === 'PRIMARY';
    const name = primary ? `${i.TABLE_NAME}_pkey` : i.INDEX_NAME;
    const table = tableFor(i.TABLE_NAME);
    table.indices[name] ??= { columns: [], unique: Number(i.NON_UNIQUE) === 0, primary };
    table.indices[name].columns.push(i.COLUMN_NAME);
  }
  for (const fk of foreignKeys) {
    tableFor(fk.TABLE_NAME).constraints![fk.CONSTRAINT_NAME] =
      `FOREIGN KEY (${fk.COLUMN_NAME}) REFERENCES ${fk.REFERENCED_TABLE_NAME}(${fk.REFERENCED_COLUMN_NAME}) ON DELETE ${fk.DELETE_RULE}`;
  }
  return schema;
}

/**
 * Projects a schema (live, or parsed from a report) onto what the dialect can
 * express in the reference's vocabulary, so both sides can be compared:
 *
 * - PostgreSQL: type, nullability, max length, default and indices, as is.
 * - SQLite: nullability, defaults and indices. It has no ALTER COLUMN and
 *   enforces neither lengths nor time zones, so (like upstream) the type
 *   migrations skip it and types/lengths are not compared. Defaults lose
 *   PostgreSQL's casts (`'pending'::text` → `pending`) and booleans are 0/1.
 * - MySQL/MariaDB: types mapped to the reference's names (varchar →
 *   character varying; text, longtext and enum → text; timestamp →
 *   timestamp with time zone, as MySQL stores it in UTC; tinyint → boolean),
 *   lengths of varchar only, defaults as for SQLite; `PRIMARY` is read as
 *   `<table>_pkey`, and the index MySQL adds on its own for a foreign key
 *   (`…_foreign`) is left out, as PostgreSQL has none.
 */
export function comparableSchema(dialect: Dialect, schema: SchemaShape): SchemaShape {
  const result: SchemaShape = {};
  for (const [tableName, table] of Object.entries(schema)) {
    const columns: Record<string, ColumnShape> = {};
    for (const [name, column] of Object.entries(table.columns)) {
      columns[name] = comparableColumn(dialect, column);
    }
    const indices: Record<string, IndexShape> = {};
    for (const [name, index] of Object.entries(table.indices)) {
      if (dialect === 'mysql' && !index.unique && name.endsWith('_foreign')) continue;
      indices[name] = index;
    }
    result[tableName] = { columns, indices };
  }
  return result;
}

const MYSQL_TYPES: Record<string, string> = {
  varchar: 'character varying',
  text: 'text',
  mediumtext: 'text',
  longtext: 'text',
  enum: 'text',
  timestamp: 'timestamp with time zone',
  datetime: 'timestamp with time zone',
  tinyint: 'boolean',
};

function comparableColumn(dialect: Dialect, column: ColumnShape): ColumnShape {
  if (dialect === 'pg') {
    const { detail: _detail, ...rest } = column;
    return dropUndefined(rest);
  }
  const defaultValue = canonicalDefault(column.default);
  if (dialect === 'sqlite') {
    return dropUndefined({ nullable: column.nullable, default: defaultValue });
  }
  const type = MYSQL_TYPES[column.type ?? ''] ?? column.type;
  return dropUndefined({
    type,
    nullable: column.nullable,
    maxLength: type === 'character varying' ? column.maxLength : undefined,
    default: defaultValue,
  });
}

function canonicalDefault(value: string | undefined): string | undefined {
  if (value === undefined || value === 'NULL') return undefined;
  const uncast = value.replace(/::[a-z ]+$/, '').replace(/^'(.*)'$/, '$1');
  if (/^current_timestamp(\(\))?$/i.test(uncast)) return 'CURRENT_TIMESTAMP';
  if (uncast === 'false') return '0';
  if (uncast === 'true') return '1';
  return uncast;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
