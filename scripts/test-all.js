#!/usr/bin/env node
// `npm run test:all [-- <jest args>]`: the whole test suite on SQLite and on a
// real PostgreSQL. Uses BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING
// when set, else starts the local server (`npm run pg:start`) and points the
// tests at it. `npm test` alone runs on SQLite only.
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { PG_ENV, postgresConnection } = require('./lib/postgresConnection');

const cli = path.join(
  path.dirname(require.resolve('@backstage/cli/package.json')),
  'bin',
  'backstage-cli',
);
const result = spawnSync(
  process.execPath,
  [cli, 'package', 'test', '--watchAll=false', ...process.argv.slice(2)],
  {
    cwd: path.resolve(__dirname, '..'),
    stdio: 'inherit',
    env: { ...process.env, [PG_ENV]: postgresConnection() },
  },
);
process.exit(result.status ?? 1);
