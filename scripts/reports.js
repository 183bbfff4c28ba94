#!/usr/bin/env node
/* eslint-disable no-console */
// Regenerates both checked-in reports, or with --check verifies that neither
// is stale. Runs both even when the first one fails, so one run shows every
// stale report.
//
//   npm run reports          # rewrite report.api.md and report.sql.md
//   npm run reports:check    # exit 1 if either differs from what the code produces
//
// The SQL report needs a real PostgreSQL. Unless
// BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING names one, the local
// server from `node scripts/postgres.js start` is started (idempotent).
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { PG_ENV, postgresConnection } = require('./lib/postgresConnection');

const check = process.argv.includes('--check');
const args = check ? ['--check'] : [];

function run(script, extraEnv = {}) {
  const result = spawnSync(
    process.execPath,
    [path.join(__dirname, script), ...args],
    { stdio: 'inherit', env: { ...process.env, ...extraEnv } },
  );
  return result.status === 0;
}

const failed = [];
if (!run('api-report.js')) failed.push('report.api.md');
if (!run('sql-report.js', { [PG_ENV]: postgresConnection() })) {
  failed.push('report.sql.md');
}

if (failed.length > 0) {
  console.error(
    check
      ? `\nStale or failing: ${failed.join(', ')}. Run \`npm run reports\` and commit the result.`
      : `\nCould not generate: ${failed.join(', ')}; see above.`,
  );
  process.exit(1);
}
console.log(check ? '\nBoth reports are up to date.' : '\nBoth reports written.');
