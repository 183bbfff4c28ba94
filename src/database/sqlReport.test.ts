import fs from 'node:fs';
import path from 'node:path';
import { parseSqlReport } from './testUtils/sqlReportSchema';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildReport, renderSqlReport } = require('../../scripts/sql-report.js') as {
  buildReport(
    connectionString: string,
    directory?: string,
  ): Promise<{ tables: Record<string, unknown>; failedDowns: string[] }>;
  renderSqlReport(tables: Record<string, unknown>, failedDowns?: string[]): string;
};

jest.setTimeout(120_000);

const read = (...parts: string[]) => fs.readFileSync(path.join(...parts), 'utf8');
const reference = parseSqlReport(read(__dirname, 'testUtils', 'upstream-report.sql.md'));
const ours = read(__dirname, '..', '..', 'report.sql.md');

describe('report.sql.md', () => {
  it('lists the six upstream tables as upstream does, state aside, and no warning', () => {
    const report = parseSqlReport(ours);
    for (const [table, shape] of Object.entries(reference)) {
      const { state: _ours, ...columns } = report[table].columns;
      const { state: _theirs, ...referenceColumns } = shape.columns;
      expect({ table, columns, indices: report[table].indices }).toEqual({
        table,
        columns: table === 'oauth_authorization_sessions' ? referenceColumns : shape.columns,
        indices: shape.indices,
      });
    }
    expect(report.oauth_authorization_sessions.columns.state).toEqual({ type: 'text', nullable: true });
    expect(ours).not.toContain('[!WARNING]');
  });

  it('renders in the layout of the reference', () => {
    // Rendering the parsed reference gives back the reference's table sections.
    const referenceText = read(__dirname, 'testUtils', 'upstream-report.sql.md');
    const rendered = renderSqlReport(reference, ['20220321100910_timestamptz_again.js']);
    expect(rendered.slice(rendered.indexOf('> [!WARNING]'))).toBe(
      referenceText.slice(referenceText.indexOf('> [!WARNING]')),
    );
  });
});

const postgres = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING;

(postgres ? describe : describe.skip)('sql-report round trip on PostgreSQL', () => {
  it('flags the down migration upstream 0.26.0 broke', async () => {
    const upstream = path.join(
      path.dirname(require.resolve('upstream-auth-backend-0-26/package.json')),
      'migrations',
    );
    const { failedDowns } = await buildReport(postgres!, upstream);
    expect(failedDowns).toContain('20220321100910_timestamptz_again.js');
  });

  it('finds that every one of our down migrations restores its schema', async () => {
    const { failedDowns } = await buildReport(postgres!);
    expect(failedDowns).toEqual([]);
  });
});
