/* eslint-disable no-console */
// The PostgreSQL server the tests and the SQL report use: the one named by
// BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING, or else the local
// server of `node scripts/postgres.js start` (started here; idempotent).
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PG_ENV = 'BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING';

function postgresConnection() {
  if (process.env[PG_ENV]) {
    return process.env[PG_ENV];
  }
  const result = spawnSync(
    process.execPath,
    [path.join(__dirname, '..', 'postgres.js'), 'start'],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
  );
  if (result.status !== 0) {
    console.error('Could not start PostgreSQL (scripts/postgres.js start); see above.');
    process.exit(1);
  }
  return result.stdout.trim().split('\n').pop();
}

module.exports = { PG_ENV, postgresConnection };
