#!/usr/bin/env node
/* eslint-disable no-console */
/*
 * `npm run bench`: this plugin against @backstage/plugin-auth-backend 0.31.0
 * (the reference) and 0.30.1, each in the same host backend (bench/host.ts)
 * in its own process, over loopback, with autocannon, first on SQLite in
 * memory and then on PostgreSQL. Each scenario runs in rotating rounds
 * (ours, 0.31, 0.30; 0.31, 0.30, ours; …) so drift on a shared machine hits
 * every target alike; a ratio of two targets is the median of the rounds'
 * ratios, each from two runs minutes closer together than different rounds.
 * Each host counts the SQL statements it sends during the measured runs. Then token-exchange latency of this plugin with 10^3
 * and 10^6 stored rows on PostgreSQL. Writes bench/RESULTS.md. Last, the
 * cluster part (bench/cluster.js): this plugin on PostgreSQL as one replica
 * counting its rate limits in memory, one counting them in Redis, and three
 * sharing one Redis behind a round-robin proxy; it writes its own section of
 * RESULTS.md (between markers), so it can run alone. Environment:
 *   BENCH_SECONDS (default 3)  seconds per measured run
 *   BENCH_ROUNDS  (default 5)  rounds per scenario and target (sign-in: twice as many)
 *   BENCH_PG      (default postgresql://postgres:postgres@127.0.0.1:5433); "" skips PostgreSQL
 *   BENCH_ROWS    (default 1000000) rows for the large-table measurement
 *   BENCH_DATABASES (default sqlite,pg) the databases of the comparison
 *   BENCH_TARGETS   (default ours,upstream,upstream-0.30) the targets of the comparison;
 *                 `baseline` is this plugin from the checkout BENCH_BASELINE names
 *   BENCH_SCENARIOS (default all) comma-separated name prefixes; when set, only
 *                 those scenarios run (`postgres` names the row-count part, `cluster`
 *                 the cluster part) and RESULTS.md is left alone (a quick before/after
 *                 check, not a report) but for the cluster section when `cluster` ran
 *   BENCH_CLUSTER_ROUNDS (default 5) rounds of the cluster part; it needs BENCH_PG
 *                 and Debian's redis-server on the PATH, and is skipped without them
 *   BENCH_PROFILE   a folder: each host records a V8 CPU profile of every measured
 *                 run (not the set-up) to <folder>/<n>-<db>-<target>-<scenario>.cpuprofile
 */
// Each measured run starts with the load generator's heap collected (see cannon() in scenarios.js).
if (!global.gc) {
  require('node:v8').setFlagsFromString('--expose-gc');
  global.gc = require('node:vm').runInNewContext('gc');
}
const knexFactory = require('knex');
const { PG, TARGETS, machineCpuTicks, startHost } = require('./hosts');
const { clusterPart } = require('./cluster');
const { fmt, machine, speedRatio, summarize, writeClusterSection, writeResults } = require('./report');
const { CONNECTIONS, REDIRECT_URI, SCENARIOS, SECONDS, inRotation, prepare } = require('./scenarios');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/**
 * Rounds of the sign-in scenario and runs per row count in the PostgreSQL
 * part: their goals compare p99s, which one disturbed run moves far more than
 * it moves req/s, so they take the median over twice as many runs.
 */
const P99_ROUNDS = 2 * ROUNDS;
const P99_SCENARIOS = ['guest sign-in'];
const LARGE_ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const list = (value, fallback) =>
  (value ?? fallback)
    .split(',')
    .map(s => s.trim())
    .filter(Boolean);
const ONLY = list(process.env.BENCH_SCENARIOS, '');
const selected = name => !ONLY.length || ONLY.some(prefix => name.startsWith(prefix));
const DATABASES = list(process.env.BENCH_DATABASES, 'sqlite,pg').filter(db => db !== 'pg' || PG);
const RUN_TARGETS = list(process.env.BENCH_TARGETS, ['ours', 'upstream', 'upstream-0.30'].join(','));
for (const target of RUN_TARGETS) if (!TARGETS[target]) throw new Error(`BENCH_TARGETS: unknown target ${target}`);
/** Seconds of each target's warm-up run of a scenario, not counted. */
const WARM_UP_SECONDS = 1;

// ---------------------------------------------------------------- PostgreSQL row-count test

/**
 * Fills the tables a token exchange reads up to `rows` live-looking rows
 * each: decided sessions of the bench's own client, spent codes, refresh
 * tokens.
 */
async function fillTables(knex, rows, clientId) {
  const have = Number((await knex('oidc_authorization_codes').count({ n: '*' }))[0].n);
  if (have >= rows) return;
  const from = have + 1;
  await knex.raw(
    `insert into oauth_authorization_sessions
       (id, client_id, user_entity_ref, redirect_uri, scope, state, response_type,
        code_challenge, code_challenge_method, nonce, status, expires_at)
     select 'bench-' || g, ?, 'user:development/guest', ?, 'openid', 's', 'code',
            'x', 'S256', 'n', 'approved', now() + interval '1 day'
     from generate_series(?::int, ?::int) g`,
    [clientId, REDIRECT_URI, from, rows],
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
       select encode(sha256(('bench-rt-' || g)::bytea), 'hex'), 'bench-' || g, ?,
              'user:development/bench-' || (g % 5000), 'openid offline_access', 'active', now(),
              now(), now() + interval '1 day', now() + interval '30 days'
       from generate_series(?::int, ?::int) g`,
      [clientId, from, rows],
    );
  }
  // Settle the bulk load before measuring: visibility map and statistics
  // (VACUUM ANALYZE), and no checkpoint of the load's WAL during the run.
  for (const table of ['oauth_authorization_sessions', 'oidc_authorization_codes', 'oidc_refresh_tokens']) {
    if (await knex.schema.hasTable(table)) await knex.raw(`vacuum analyze ${table}`);
  }
  await knex.raw('checkpoint');
}

/** The scenarios of the row-count test. */
const LARGE_SCENARIOS = ['token exchange', 'full flow (authorize → approve → token)'];

/**
 * The token exchange and the full flow on two databases of one PostgreSQL
 * server, one with 10^3 and one with BENCH_ROWS stored rows, each behind its
 * own host, measured in alternating rounds like the comparison so drift on
 * the machine hits both.
 */
async function largeTableLatency() {
  const setups = [];
  try {
    for (const rows of [1000, LARGE_ROWS]) {
      const setup = { rows, runs: Object.fromEntries(LARGE_SCENARIOS.map(name => [name, []])) };
      setups.push(setup);
      setup.host = await startHost('ours', 'pg');
      setup.knex = knexFactory({ client: 'pg', connection: setup.host.databaseUrl });
      setup.ctx = { ...(await prepare(setup.host)), scenario: `pg-${rows}-rows` };
      const started = Date.now();
      await fillTables(setup.knex, rows, setup.ctx.clientId);
      setup.fillSeconds = (Date.now() - started) / 1000;
    }
    const results = [];
    for (const name of LARGE_SCENARIOS) {
      const scenario = SCENARIOS[name].run;
      for (const setup of setups) await scenario({ ...setup.ctx, seconds: WARM_UP_SECONDS });
      for (let round = 0; round < P99_ROUNDS; round++) {
        const order = round % 2 === 0 ? setups : [...setups].reverse();
        for (const setup of order) {
          setup.runs[name].push(await scenario(setup.ctx));
          console.log(`  ${name.split(' ')[0]} run ${round + 1} ${String(setup.rows).padEnd(8)}  ${fmt(setup.runs[name].at(-1))}`);
        }
      }
      for (const setup of setups) {
        const result = { scenario: name, rows: setup.rows, fillSeconds: setup.fillSeconds, ...summarize(setup.runs[name]), runs: setup.runs[name].length };
        console.log(`  ${name}, PostgreSQL, ${setup.rows} rows per table: ${fmt(result)} (filled in ${setup.fillSeconds.toFixed(1)} s)`);
        results.push(result);
      }
    }
    return results;
  } finally {
    for (const setup of setups) {
      await setup.knex?.destroy();
      await setup.host?.stop();
    }
  }
}

// ---------------------------------------------------------------- the comparison

/** The migrations a host's PostgreSQL database really went through (a check on what it loaded). */
async function appliedMigrations(host) {
  if (!host.databaseUrl) return undefined;
  const knex = knexFactory({ client: 'pg', connection: host.databaseUrl });
  try {
    const rows = await knex('knex_migrations').select('name').orderBy('name');
    return { count: rows.length, last: rows.at(-1)?.name };
  } finally {
    await knex.destroy();
  }
}

/** Every scenario on one database, all targets side by side; returns { loaded, results }. */
async function compareOn(database) {
  console.log(`\n=== ${database === 'pg' ? 'PostgreSQL' : 'SQLite (in memory)'} ===`);
  const hosts = {};
  const results = {};
  const loaded = {};
  try {
    for (const target of RUN_TARGETS) {
      hosts[target] = await startHost(target, database);
      loaded[target] = { ...hosts[target].loaded, postgresMigrations: await appliedMigrations(hosts[target]) };
      console.log(`  ${target}: ${JSON.stringify(loaded[target])}`);
    }
    const ctx = {};
    for (const target of RUN_TARGETS) ctx[target] = await prepare(hosts[target]);
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      // A scenario measured `alongside` another runs in that one's rounds.
      if (scenario.alongside || !selected(name)) continue;
      const group = [
        [name, scenario],
        ...Object.entries(SCENARIOS).filter(([other, s]) => s.alongside === name && selected(other)),
      ];
      // Each (scenario, target) pair is one contender in the rotation, so
      // scenarios compared with each other see the same drift too.
      const contenders = group.flatMap(([n, s]) =>
        RUN_TARGETS.filter(t => !s.targets || s.targets.includes(t)).map(t => ({ name: n, scenario: s, target: t, runs: [] })),
      );
      const rounds = P99_SCENARIOS.includes(name) ? P99_ROUNDS : ROUNDS;
      // A short run of the scenario itself first, so JIT and caches count against no target.
      for (const c of contenders) await c.scenario.run({ ...ctx[c.target], scenario: 'warm-up', seconds: WARM_UP_SECONDS });
      for (let round = 0; round < rounds; round++) {
        // Rotate who goes first, and reverse every other round.
        for (const c of inRotation(contenders, round)) {
          c.runs.push(await c.scenario.run({ ...ctx[c.target], scenario: c.name.split(/[ ,]/)[0] }));
          const label = group.length > 1 ? `${c.target} ${c.name.split(',')[1]?.trim() ?? ''}`.trim() : c.target;
          console.log(`  run ${round + 1} ${label.padEnd(14)} ${fmt(c.runs.at(-1))}`);
        }
      }
      for (const [n, s] of group) {
        const own = contenders.filter(c => c.name === n);
        results[n] = { perUnit: s.perUnit, ...Object.fromEntries(own.map(c => [c.target, summarize(c.runs)])) };
        console.log(n);
        for (const c of own) console.log(`  ${c.target.padEnd(14)} ${fmt(results[n][c.target])}`);
        for (const other of ['upstream', 'baseline']) {
          if (!results[n][other] || !results[n].ours) continue;
          const ratio = speedRatio(results[n].ours, results[n][other]);
          console.log(`  ours / ${other}: ${ratio.toFixed(2)}× req/s`);
        }
      }
    }
  } finally {
    await Promise.all(Object.values(hosts).map(h => h.stop()));
  }
  return { loaded, results };
}

async function main() {
  const started = Date.now();
  const loadAtStart = machine().load;
  const ticksAtStart = machineCpuTicks();
  console.log(`Machine: ${JSON.stringify(machine())}`);
  const byDatabase = {};
  // BENCH_SCENARIOS naming only other parts (postgres, cluster) starts no comparison hosts.
  if (Object.keys(SCENARIOS).some(selected)) {
    for (const database of DATABASES) byDatabase[database] = await compareOn(database);
  }
  let stealPercent;
  const ticks = machineCpuTicks();
  if (ticks && ticksAtStart && Object.keys(byDatabase).length) {
    stealPercent = (100 * (ticks.steal - ticksAtStart.steal)) / (ticks.total - ticksAtStart.total);
    console.log(`CPU time stolen by the hypervisor meanwhile: ${stealPercent.toFixed(1)} %`);
  }
  let large = [];
  if (PG && (!ONLY.length || ONLY.includes('postgres'))) {
    console.log('Token exchange with stored rows on PostgreSQL');
    large = await largeTableLatency();
  }
  if (ONLY.length) {
    console.log('BENCH_SCENARIOS set: bench/RESULTS.md left as is but for the cluster section (if `cluster` ran)');
  } else {
    writeResults(byDatabase, large, started, loadAtStart, {
      connections: CONNECTIONS,
      rounds: ROUNDS,
      p99Rounds: P99_ROUNDS,
      p99Scenarios: P99_SCENARIOS,
      seconds: SECONDS,
      warmUpSeconds: WARM_UP_SECONDS,
      stealPercent,
      targets: RUN_TARGETS,
    });
    console.log(`Wrote bench/RESULTS.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  // Last, and on its own with BENCH_SCENARIOS=cluster: it writes only its own section.
  if (!ONLY.length || ONLY.includes('cluster')) {
    const cluster = await clusterPart({ warmUpSeconds: WARM_UP_SECONDS });
    if (!cluster.skipped) {
      writeClusterSection(cluster, { connections: CONNECTIONS, seconds: SECONDS, warmUpSeconds: WARM_UP_SECONDS });
      console.log('Wrote the cluster section of bench/RESULTS.md');
    }
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
