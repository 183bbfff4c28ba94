#!/usr/bin/env node
/* eslint-disable no-console */
/*
 * `npm run bench`: this plugin against @backstage/plugin-auth-backend 0.30.1
 * on the same host backend (bench/host.ts), over loopback, with autocannon.
 * Each scenario runs in alternating rounds (ours, upstream, upstream, ours, …)
 * so drift on a shared machine hits both alike. Then token-exchange latency of
 * this plugin with 10^3 and 10^6 stored rows on PostgreSQL. Writes
 * bench/RESULTS.md. Environment:
 *   BENCH_SECONDS (default 3)  seconds per measured run
 *   BENCH_ROUNDS  (default 3)  rounds per scenario and target
 *   BENCH_PG      (default postgresql://postgres:postgres@127.0.0.1:5433); "" skips the PG part
 *   BENCH_ROWS    (default 1000000) rows for the large-table measurement
 *   BENCH_SCENARIOS (default all) comma-separated name prefixes; when set, only
 *                 those scenarios run (`postgres` names the PG part) and
 *                 RESULTS.md is left alone (a quick before/after check, not a report)
 *   BENCH_PROFILE   a folder: each host records a V8 CPU profile of every measured
 *                 run (not the set-up) to <folder>/<target>-<scenario>-<n>.cpuprofile
 */
const { randomBytes } = require('node:crypto');
const knexFactory = require('knex');
const { machineCpuTicks, startHost } = require('./hosts');
const { fmt, machine, summarize, writeResults } = require('./report');
const { CONNECTIONS, REDIRECT_URI, SCENARIOS, SECONDS, prepare } = require('./scenarios');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * Runs per row count in the PostgreSQL part. Its goal compares two p99s,
 * which one disturbed run moves far more than it moves req/s, so it takes
 * the median over twice as many runs.
 */
const PG_RUNS = 2 * ROUNDS;
const PG = process.env.BENCH_PG ?? 'postgresql://postgres:postgres@127.0.0.1:5433';
const LARGE_ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ONLY = (process.env.BENCH_SCENARIOS ?? '')
  .split(',')
  .map(s => s.trim())
  .filter(Boolean);
/** Seconds of each target's warm-up run of a scenario, not counted. */
const WARM_UP_SECONDS = 1;

// ---------------------------------------------------------------- PostgreSQL row-count test

/** Fills the tables a token exchange reads up to `rows` live-looking rows each. */
async function fillTables(knex, rows) {
  const have = Number((await knex('oidc_authorization_codes').count({ n: '*' }))[0].n);
  if (have >= rows) return;
  const from = have + 1;
  await knex.raw(
    `insert into oauth_authorization_sessions
       (id, client_id, user_entity_ref, redirect_uri, scope, state, response_type,
        code_challenge, code_challenge_method, nonce, status, expires_at)
     select 'bench-' || g, 'bench-client', 'user:development/guest', ?, 'openid', 's', 'code',
            'x', 'S256', 'n', 'approved', now() + interval '1 day'
     from generate_series(?::int, ?::int) g`,
    [REDIRECT_URI, from, rows],
  );
  await knex.raw(
    `insert into oidc_authorization_codes (code, session_id, expires_at, used)
     select encode(sha256(('bench-' || g)::bytea), 'hex'), 'bench-' || g, now() + interval '1 day', true
     from generate_series(?::int, ?::int) g`,
    [from, rows],
  );
  if (await knex.schema.hasTable('oidc_refresh_tokens')) {
    await knex.raw(
      `insert into oidc_refresh_tokens
         (token_hash, family_id, client_id, user_entity_ref, scope, status, auth_time,
          created_at, expires_at, family_expires_at)
       select encode(sha256(('bench-rt-' || g)::bytea), 'hex'), 'bench-' || g, 'bench-client',
              'user:development/bench-' || (g % 5000), 'openid offline_access', 'active', now(),
              now(), now() + interval '1 day', now() + interval '30 days'
       from generate_series(?::int, ?::int) g`,
      [from, rows],
    );
  }
  // Settle the bulk load before measuring: visibility map and statistics
  // (VACUUM ANALYZE), and no checkpoint of the load's WAL during the run.
  for (const table of ['oauth_authorization_sessions', 'oidc_authorization_codes', 'oidc_refresh_tokens']) {
    if (await knex.schema.hasTable(table)) await knex.raw(`vacuum analyze ${table}`);
  }
  await knex.raw('checkpoint');
}

/**
 * Token exchange on two databases of one PostgreSQL server, one with 10^3
 * and one with BENCH_ROWS stored rows, each behind its own host, measured in
 * alternating rounds like ours/upstream so drift on the machine hits both.
 */
async function largeTableLatency() {
  const setups = [];
  try {
    for (const rows of [1000, LARGE_ROWS]) {
      const prefix = `bench_${randomBytes(4).toString('hex')}_`;
      const setup = { rows, prefix, runs: [] };
      setups.push(setup);
      setup.host = await startHost('ours', { BENCH_DATABASE: PG, BENCH_DB_PREFIX: prefix });
      setup.knex = knexFactory({ client: 'pg', connection: `${PG}/${prefix}auth` });
      setup.ctx = { ...(await prepare(setup.host)), scenario: `pg-${rows}-rows` };
      const started = Date.now();
      await fillTables(setup.knex, rows);
      setup.fillSeconds = (Date.now() - started) / 1000;
    }
    for (const setup of setups) await SCENARIOS['token exchange']({ ...setup.ctx, seconds: WARM_UP_SECONDS });
    for (let round = 0; round < PG_RUNS; round++) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const setup of order) {
        setup.runs.push(await SCENARIOS['token exchange'](setup.ctx));
        console.log(`  run ${round + 1} ${String(setup.rows).padEnd(8)}  ${fmt(setup.runs.at(-1))}`);
      }
    }
    return setups.map(setup => {
      const result = { rows: setup.rows, fillSeconds: setup.fillSeconds, ...summarize(setup.runs), runs: setup.runs.length };
      console.log(`  PostgreSQL, ${setup.rows} rows per table: ${fmt(result)} (filled in ${setup.fillSeconds.toFixed(1)} s)`);
      return result;
    });
  } finally {
    const admin = knexFactory({ client: 'pg', connection: `${PG}/postgres` });
    for (const setup of setups) {
      await setup.knex?.destroy();
      await setup.host?.stop();
      await admin.raw(`drop database if exists "${setup.prefix}auth" with (force)`).catch(() => undefined);
    }
    await admin.destroy();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const loadAtStart = machine().load;
  const ticksAtStart = machineCpuTicks();
  let stealPercent;
  console.log(`Machine: ${JSON.stringify(machine())}`);
  const hosts = {};
  const results = {};
  try {
    hosts.ours = await startHost('ours');
    hosts.upstream = await startHost('upstream');
    const ctx = { ours: await prepare(hosts.ours), upstream: await prepare(hosts.upstream) };
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (ONLY.length && !ONLY.some(prefix => name.startsWith(prefix))) continue;
      const runs = { ours: [], upstream: [] };
      // A short run of the scenario itself first, so JIT and caches count against neither target.
      for (const t of ['ours', 'upstream']) await scenario({ ...ctx[t], scenario: 'warm-up', seconds: WARM_UP_SECONDS });
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? ['ours', 'upstream'] : ['upstream', 'ours'];
        for (const t of order) {
          runs[t].push(await scenario({ ...ctx[t], scenario: name.split(' ')[0] }));
          console.log(`  run ${round + 1} ${t.padEnd(8)}  ${fmt(runs[t].at(-1))}`);
        }
      }
      results[name] = { ours: summarize(runs.ours), upstream: summarize(runs.upstream) };
      const ratio = results[name].ours.rps / results[name].upstream.rps;
      const cpuRatio = results[name].upstream.cpuMsPerRequest / results[name].ours.cpuMsPerRequest;
      const loopRatio = results[name].upstream.loopMsPerRequest / results[name].ours.loopMsPerRequest;
      console.log(
        `${name}\n  ours:     ${fmt(results[name].ours)}\n  upstream: ${fmt(results[name].upstream)}\n` +
          `  ratio:    ${ratio.toFixed(2)}× req/s, ${cpuRatio.toFixed(2)}× less CPU and ` +
          `${loopRatio.toFixed(2)}× less event-loop time per request`,
      );
    }
    const ticks = machineCpuTicks();
    if (ticks && ticksAtStart) {
      stealPercent = (100 * (ticks.steal - ticksAtStart.steal)) / (ticks.total - ticksAtStart.total);
      console.log(`CPU time stolen by the hypervisor meanwhile: ${stealPercent.toFixed(1)} %`);
    }
  } finally {
    await Promise.all(Object.values(hosts).map(h => h.stop()));
  }
  let large = [];
  if (PG && (!ONLY.length || ONLY.includes('postgres'))) {
    console.log('Token exchange with stored rows on PostgreSQL');
    large = await largeTableLatency();
  }
  if (ONLY.length) {
    console.log('BENCH_SCENARIOS set: bench/RESULTS.md left as is');
    return;
  }
  writeResults(results, large, started, loadAtStart, {
    connections: CONNECTIONS,
    rounds: ROUNDS,
    pgRuns: PG_RUNS,
    seconds: SECONDS,
    warmUpSeconds: WARM_UP_SECONDS,
    stealPercent,
  });
  console.log(`Wrote bench/RESULTS.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
