/*
 * Benchmark hosts for bench/run.js: bench/host.ts started in its own process
 * per target and database, its CPU time, and the measurement commands it
 * takes on stdin (statement counts and, with BENCH_PROFILE, CPU profiles).
 */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const knexFactory = require('knex');

/** USER_HZ of /proc/<pid>/stat; 100 on every Linux build Node supports. */
const CLOCK_TICKS = 100;
/** BENCH_PROFILE: a folder for V8 CPU profiles of the measured runs, or ''. */
const PROFILE = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : '';
/** BENCH_PG: the PostgreSQL server for the PostgreSQL half; '' skips it. */
const PG = process.env.BENCH_PG ?? 'postgresql://postgres:postgres@127.0.0.1:5433';

/**
 * The plugins compared. Each host imports exactly one of them (bench/host.ts)
 * and reports which package and migrations directory it really loaded.
 */
const TARGETS = {
  ours: { label: 'ours' },
  upstream: { label: 'upstream 0.31.0' },
  'upstream-0.30': { label: 'upstream 0.30.1' },
  // BENCH_BASELINE: another checkout of this plugin, for before/after comparisons.
  baseline: { label: 'ours (baseline)' },
};

const children = new Set();
process.on('exit', () => children.forEach(child => child.kill('SIGKILL')));
/** Kills `child` (a host, the cluster's proxy or Redis) when the bench exits, however it exits. */
function trackChild(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
// Interrupted runs must not leave hosts behind (the exit hook above kills them).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A free loopback port. */
async function freePort() {
  const server = require('node:net').createServer();
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise(resolve => server.close(resolve));
  return port;
}

/** A new database prefix on BENCH_PG: the plugin's database is `<prefix>auth`. */
const newDatabasePrefix = () => `bench_${randomBytes(4).toString('hex')}_`;

/** Drops the plugin database of a prefix on BENCH_PG, if it is there. */
async function dropDatabase(prefix) {
  const admin = knexFactory({ client: 'pg', connection: `${PG}/postgres` });
  await admin.raw(`drop database if exists "${prefix}auth" with (force)`).catch(() => undefined);
  await admin.destroy();
}

/**
 * Starts bench/host.ts for `target` on `database` ('sqlite': in memory;
 * 'pg': a database of its own on BENCH_PG, dropped again by stop()) and
 * resolves once it listens. `extraEnv` is passed to the host. `options`:
 * `port` to listen on (default: a free one); `databasePrefix`, a database
 * on BENCH_PG several hosts share (replicas), which its owner drops with
 * dropDatabase() rather than each host's stop().
 */
async function startHost(target, database, extraEnv = {}, options = {}) {
  if (!TARGETS[target]) throw new Error(`unknown target ${target}`);
  const port = options.port ?? (await freePort());
  const prefix = options.databasePrefix ?? newDatabasePrefix();
  const ownDatabase = database === 'pg' && !options.databasePrefix;
  const dbEnv = database === 'pg' ? { BENCH_DATABASE: PG, BENCH_DB_PREFIX: prefix } : {};
  const child = spawn(
    process.execPath,
    // --expose-gc: the host collects its heap before each measured run (see `start` in host.ts).
    ['--expose-gc', '--require', require.resolve('@backstage/cli-node/config/nodeTransform.cjs'), path.join(__dirname, 'host.ts')],
    {
      env: {
        ...process.env,
        ...dbEnv,
        ...extraEnv,
        BENCH_PROFILE: PROFILE,
        BENCH_TARGET: target,
        BENCH_PORT: String(port),
        LOG_LEVEL: 'error',
        NODE_ENV: 'production',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  trackChild(child);
  let stderr = '';
  child.stderr.on('data', d => {
    stderr = (stderr + d).slice(-4000);
  });
  const lines = lineReader(child);
  const dropOwnDatabase = async () => {
    if (ownDatabase) await dropDatabase(prefix);
  };
  let loaded;
  try {
    loaded = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${target} host did not start:\n${stderr}`)), 120_000);
      lines.next('READY ').then(line => {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('READY '.length)));
      });
      child.on('exit', code => reject(new Error(`${target} host exited (${code}):\n${stderr}`)));
    });
  } catch (error) {
    await stopProcess(child);
    await dropOwnDatabase();
    throw error;
  }
  const base = `http://127.0.0.1:${port}`;
  return {
    target,
    label: TARGETS[target].label,
    database,
    /** The plugin database's connection string (PostgreSQL only). */
    databaseUrl: database === 'pg' ? `${PG}/${prefix}auth` : undefined,
    /** What the host loaded: { package, version, packageDir, migrationsDir, migrationsVersion }. */
    loaded,
    base,
    async stop() {
      await stopProcess(child);
      await dropOwnDatabase();
    },
    /**
     * Brackets one measured run: `start` zeroes the host's statement counters
     * (and starts a CPU profile into `profileFile`, with BENCH_PROFILE);
     * `stop` answers with the statements sent meanwhile.
     */
    async measureStart(profileFile) {
      await command(child, lines, `start ${PROFILE && profileFile ? profileFile : '-'}`, 'STARTED');
    },
    async measureStop() {
      const line = await command(child, lines, 'stop', 'STOPPED ');
      return JSON.parse(line.slice('STOPPED '.length));
    },
    cpuSeconds: () => processCpuSeconds(child.pid),
    // A process's main thread is its own task: /proc/<pid>/task/<pid>.
    loopCpuSeconds: () => processCpuSeconds(`${child.pid}/task/${child.pid}`),
  };
}

/** Lines of a child's stdout, handed to whoever waits for a given prefix. */
function lineReader(child) {
  let buffer = '';
  const waiting = [];
  child.stdout.on('data', d => {
    buffer += d;
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const index = waiting.findIndex(w => line.startsWith(w.prefix));
      if (index >= 0) waiting.splice(index, 1)[0].resolve(line);
    }
  });
  return { next: prefix => new Promise(resolve => waiting.push({ prefix, resolve })) };
}

function command(child, lines, text, answerPrefix) {
  const answer = lines.next(answerPrefix);
  child.stdin.write(`${text}\n`);
  return answer;
}

/**
 * User + system CPU time a process (or, given `<pid>/task/<tid>`, one of its
 * threads) has used so far (Linux /proc), or NaN elsewhere.
 */
function processCpuSeconds(pid) {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** SIGTERM, then SIGKILL after 10 s; resolves once `child` has exited. */
function stopProcess(child) {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/**
 * The machine's CPU time so far and the part of it stolen by the hypervisor
 * (Linux /proc/stat, in clock ticks), or undefined elsewhere.
 */
function machineCpuTicks() {
  try {
    const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user)
    return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] };
  } catch {
    return undefined;
  }
}

module.exports = {
  PG,
  PROFILE,
  TARGETS,
  dropDatabase,
  freePort,
  machineCpuTicks,
  newDatabasePrefix,
  processCpuSeconds,
  startHost,
  stopProcess,
  trackChild,
};
