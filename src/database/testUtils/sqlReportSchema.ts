/**
 * The schema shape shared by the SQL report (report.sql.md, upstream's
 * report), the live-database inspection and the migration tests, in
 * PostgreSQL's vocabulary (`information_schema` types, `<table>_pkey`, …).
 */
export interface ColumnShape {
  type?: string;
  nullable: boolean;
  maxLength?: number;
  default?: string;
  /** Only in live snapshots: what else the dialect says about the column. */
  detail?: string;
}

export interface IndexShape {
  columns: string[];
  unique: boolean;
  primary: boolean;
}

export interface TableShape {
  columns: Record<string, ColumnShape>;
  indices: Record<string, IndexShape>;
  /** Only in live snapshots: foreign keys and checks, by name or definition. */
  constraints?: Record<string, string>;
}

export type SchemaShape = Record<string, TableShape>;

const TABLE_HEADING = /^## Table `([^`]+)`$/;
const COLUMN_ROW = /^\| `([^`]+)`\s*\| `([^`]+)`\s*\| (true|false)\s*\| (\d+|-)\s*\| (?:`(.*)`|-)\s*\|$/;
const INDEX_LINE = /^- `([^`]+)` \(([^)]*)\)((?: unique| primary)*)$/;

/**
 * Parses a report in the layout of upstream's `report.sql.md` (their
 * `backstage-repo-tools api-reports --sql-reports`), so tests compare against
 * the checked-in report itself rather than a hand-made copy that could drift.
 */
export function parseSqlReport(markdown: string): SchemaShape {
  const schema: SchemaShape = {};
  let table: TableShape | undefined;
  for (const line of markdown.split('\n')) {
    const heading = TABLE_HEADING.exec(line);
    if (heading) {
      table = { columns: {}, indices: {} };
      schema[heading[1]] = table;
      continue;
    }
    if (!table) {
      continue;
    }
    const column = COLUMN_ROW.exec(line);
    if (column) {
      const [, name, type, nullable, maxLength, defaultValue] = column;
      table.columns[name] = {
        type,
        nullable: nullable === 'true',
        maxLength: maxLength === '-' ? undefined : Number(maxLength),
        default: defaultValue,
      };
      continue;
    }
    const index = INDEX_LINE.exec(line);
    if (index) {
      const [, name, columns, flags] = index;
      table.indices[name] = {
        columns: columns.split(',').map(c => c.trim().replace(/`/g, '')),
        unique: flags.includes('unique'),
        primary: flags.includes('primary'),
      };
    }
  }
  return schema;
}
