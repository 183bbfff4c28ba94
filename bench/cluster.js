/* eslint-disable no-console */
/*
 * The cluster part of bench/run.js (issue 26): what sharing the rate limits
 * through Redis costs. This plugin on PostgreSQL (BENCH_PG) only, measured
 * as four contenders in rotating rounds, like the main comparison:
 *   memory        one replica counting its limits in memory (the default)
 *   memory-proxy  the same replica through the round-robin proxy (the proxy's own cost)
 *   redis         one replica counting in Redis (`backend.cache`, store redis)
 *   cluster       three replicas on one database and that Redis, through the proxy
 * The Redis replica is the cluster's first, reached directly; the others idle
 * meanwhile. Every budget of `auth.oidcProvider.rateLimits` is set out of
 * reach by bench/host.ts, so each request still takes from its budgets, in
 * Redis for the last two, but none answers 429. The proxy (bench/proxy.js)
 * and Redis (Debian's redis-server, no persistence) each run in a process of
 * their own, whose CPU time is reported per request next to the replicas'.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createClient } = require('@redis/client');
const {
  PG,
  dropDatabase,
  freePort,
  machineCpuTicks,
  newDatabasePrefix,
  processCpuSeconds,
  startHost,
  stopProcess,
  trackChild,
} = require('./hosts');
const { fmt, machine, summarize } = require('./report');
const { SCENARIOS, inRotation, prepare } = require('./scenarios');

/** Rounds of the cluster part (each scenario, each contender). */
const CLUSTER_ROUNDS = Number(process.env.BENCH_CLUSTER_ROUNDS ?? 5);
const REPLICAS = 3;
const CLUSTER_SCENARIOS = ['token exchange', 'full flow (authorize → approve → token)'];
const CONTENDERS = {
  memory: '1 replica, limits in memory (default)',
  'memory-proxy': '1 replica, limits in memory, through the proxy',
  redis: '1 replica, limits in Redis',
  cluster: `${REPLICAS} replicas, limits in one Redis, through the proxy`,
};

/** Why the cluster part cannot run here, or undefined when it can. */
function clusterUnavailable() {
  if (!PG) return 'BENCH_PG is empty: the cluster part needs PostgreSQL';
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    return 'redis-server is not on the PATH (Debian: apt-get install redis-server)';
  }
  return undefined;
}

/** Resolves with the first line of `stream` that `match` accepts; rejects if `child` exits first. */
function waitForLine(child, stream, match, what) {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${output}`)), 30_000);
    stream.on('data', chunk => {
      output += chunk;
      const line = output.split('\n').find(match);
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${output}`));
    });
  });
}

/**
 * A throwaway redis-server on a free loopback port, without persistence (as
 * src/testUtils/redisServer.ts starts for the tests), and a client of the
 * bench's own that reads how many scripts the server ran.
 */
async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const child = trackChild(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitForLine(child, child.stdout, line => line.includes('Ready to accept connections'), 'redis-server');
  const url = `redis://127.0.0.1:${port}`;
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  const version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1];
  return {
    url,
    version,
    cpuSeconds: () => processCpuSeconds(child.pid),
    /** Scripts run so far (EVALSHA, and EVAL the first time a script is sent). */
    async scriptCalls() {
      const stats = await client.info('commandstats');
      let calls = 0;
      for (const m of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
      return calls;
    },
    /** Keys the plugin's limits left in the server. */
    limitKeys: async () => (await client.keys('portal-oidc-limits:*')).length,
    async stop() {
      await client.quit().catch(() => undefined);
      await stopProcess(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** bench/proxy.js in its own process, sending each request to the next of `ports` in turn. */
async function startProxy(ports) {
  const child = trackChild(
    spawn(process.execPath, [path.join(__dirname, 'proxy.js'), ...ports.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const line = await waitForLine(child, child.stdout, l => l.startsWith('LISTENING '), 'bench proxy');
  return {
    base: `http://127.0.0.1:${Number(line.split(' ')[1])}`,
    cpuSeconds: () => processCpuSeconds(child.pid),
    stop: () => stopProcess(child),
  };
}

/** Adds up the statement counts the hosts' measureStop() answered. */
function mergeCounts(all) {
  const merged = { statements: 0, roundTrips: 0, scheduler: 0, byName: {} };
  for (const counts of all) {
    merged.statements += counts.statements;
    merged.roundTrips += counts.roundTrips;
    merged.scheduler += counts.scheduler;
    for (const [name, n] of Object.entries(counts.byName)) merged.byName[name] = (merged.byName[name] ?? 0) + n;
  }
  return merged;
}

/**
 * One contender as the scenarios see a host: requests go to `proxy` (or the
 * one host directly), every host's measurements add up, the proxy's and
 * Redis's CPU time are sidecars, and measureStop() also answers the Redis
 * scripts run meanwhile.
 */
function contender(hosts, { proxy, redis } = {}) {
  if (!proxy && hosts.length !== 1) throw new Error('several replicas need a proxy');
  let scriptsBefore = 0;
  return {
    target: 'ours',
    database: 'pg',
    base: proxy ? proxy.base : hosts[0].base,
    sidecars: { ...(proxy ? { proxy: proxy.cpuSeconds } : {}), ...(redis ? { redis: redis.cpuSeconds } : {}) },
    async measureStart(profileFile) {
      // With BENCH_PROFILE, one profile per replica.
      const fileOf = i => (hosts.length > 1 ? profileFile.replace(/\.cpuprofile$/, `-replica${i + 1}.cpuprofile`) : profileFile);
      await Promise.all(hosts.map((host, i) => host.measureStart(fileOf(i))));
      if (redis) scriptsBefore = await redis.scriptCalls();
    },
    async measureStop() {
      const counts = mergeCounts(await Promise.all(hosts.map(host => host.measureStop())));
      // The bench's own INFO is no script, so it does not count.
      return redis ? { ...counts, redisCalls: (await redis.scriptCalls()) - scriptsBefore } : counts;
    },
    cpuSeconds: () => hosts.reduce((sum, host) => sum + host.cpuSeconds(), 0),
    loopCpuSeconds: () => hosts.reduce((sum, host) => sum + host.loopCpuSeconds(), 0),
  };
}

/**
 * Runs the cluster part; resolves with { results, loaded, redisVersion,
 * limitKeys, seconds } (results[scenario][contender] summarized), or with
 * { skipped: reason }.
 */
async function clusterPart({ warmUpSeconds }) {
  const unavailable = clusterUnavailable();
  if (unavailable) {
    console.log(`Cluster part skipped: ${unavailable}`);
    return { skipped: unavailable };
  }
  const started = Date.now();
  const loadAtStart = machine().load;
  const ticksAtStart = machineCpuTicks();
  console.log(`\n=== Cluster: 1 replica against ${REPLICAS} on one Redis (PostgreSQL) ===`);
  const stops = [];
  const databasePrefix = newDatabasePrefix();
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    console.log(`  redis-server ${redis.version} at ${redis.url}`);

    const memory = await startHost('ours', 'pg');
    stops.push(() => memory.stop());
    const memoryProxy = await startProxy([new URL(memory.base).port]);
    stops.push(() => memoryProxy.stop());

    // The proxy first, so the replicas can know the address they are reached at.
    const ports = [];
    for (let i = 0; i < REPLICAS; i++) ports.push(await freePort());
    const clusterProxy = await startProxy(ports);
    stops.push(() => clusterProxy.stop());
    stops.push(() => dropDatabase(databasePrefix));
    const replicas = [];
    // One after another: the first one's migrations are the database's.
    for (const port of ports) {
      const replica = await startHost('ours', 'pg', { BENCH_REDIS: redis.url, BENCH_BASE_URL: clusterProxy.base }, { port, databasePrefix });
      replicas.push(replica);
      stops.push(() => replica.stop());
    }
    const loaded = { memory: memory.loaded, replica: replicas[0].loaded };
    console.log(`  ${JSON.stringify(loaded.replica)}`);

    const hosts = {
      memory: contender([memory]),
      'memory-proxy': contender([memory], { proxy: memoryProxy }),
      redis: contender([replicas[0]], { redis }),
      cluster: contender(replicas, { proxy: clusterProxy, redis }),
    };
    const ctx = {};
    for (const [key, host] of Object.entries(hosts)) ctx[key] = { ...(await prepare(host)), scenario: `cluster-${key}` };

    const results = {};
    for (const name of CLUSTER_SCENARIOS) {
      const scenario = SCENARIOS[name].run;
      const contenders = Object.keys(CONTENDERS).map(key => ({ key, runs: [] }));
      // Each process its warm-up: the cluster's is spread over its replicas, so it runs that many times as long.
      for (const c of contenders) {
        await scenario({ ...ctx[c.key], scenario: 'warm-up', seconds: warmUpSeconds * (c.key === 'cluster' ? REPLICAS : 1) });
      }
      for (let round = 0; round < CLUSTER_ROUNDS; round++) {
        for (const c of inRotation(contenders, round)) {
          c.runs.push(await scenario(ctx[c.key]));
          console.log(`  ${name.split(' ')[0]} run ${round + 1} ${c.key.padEnd(13)} ${fmt(c.runs.at(-1))}`);
        }
      }
      results[name] = Object.fromEntries(contenders.map(c => [c.key, summarize(c.runs)]));
      console.log(name);
      for (const c of contenders) console.log(`  ${c.key.padEnd(13)} ${fmt(results[name][c.key])}`);
    }
    const limitKeys = await redis.limitKeys();
    console.log(`  limit keys in Redis at the end: ${limitKeys}`);
    const ticks = machineCpuTicks();
    const stealPercent =
      ticks && ticksAtStart ? (100 * (ticks.steal - ticksAtStart.steal)) / (ticks.total - ticksAtStart.total) : undefined;
    const seconds = (Date.now() - started) / 1000;
    console.log(`Cluster part took ${seconds.toFixed(0)} s`);
    return {
      results,
      labels: CONTENDERS,
      loaded,
      redisVersion: redis.version,
      limitKeys,
      started: new Date(started).toISOString(),
      seconds,
      loadAtStart,
      loadAtEnd: machine().load,
      stealPercent,
      rounds: CLUSTER_ROUNDS,
      replicas: REPLICAS,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

module.exports = { clusterPart };
