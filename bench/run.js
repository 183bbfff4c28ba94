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
const { createHash, randomBytes } = require('node:crypto');
const path = require('node:path');
const autocannon = require('autocannon');
const knexFactory = require('knex');
const { PROFILE, machineCpuTicks, startHost } = require('./hosts');
const { fmt, machine, summarize, writeResults } = require('./report');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * Runs per row count in the PostgreSQL part. Its goal compares two p99s,
 * which one disturbed run moves far more than it moves req/s, so it takes
 * the median over twice as many runs.
 */
const PG_RUNS = 2 * ROUNDS;
const CONNECTIONS = 10;
const PG = process.env.BENCH_PG ?? 'postgresql://postgres:postgres@127.0.0.1:5433';
const LARGE_ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ONLY = (process.env.BENCH_SCENARIOS ?? '')
  .split(',')
  .map(s => s.trim())
  .filter(Boolean);
/**
 * Codes minted before each token-exchange run (each is single-use). Runs are
 * timed like the others: autocannon's `amount` mode only stops on its 1 s
 * tick, which would quantize req/s. A timed run also ends on a tick, so it
 * can last a second longer than asked. The pool must outlast that (an
 * exhausted pool shows up as failures, and its quick 400s would inflate
 * req/s): per second of run plus one, the larger of CODES_PER_SECOND and
 * 1.5 times the fastest rate seen on that host so far; codes live 60 s, and
 * minting even the largest pool takes well under that.
 */
const CODES_PER_SECOND = 1500;
const fastestTokenRate = new Map();
/** Seconds of each target's warm-up run of a scenario, not counted. */
const WARM_UP_SECONDS = 1;
const REDIRECT_URI = 'http://127.0.0.1:9999/callback';
const VERIFIER = randomBytes(32).toString('base64url');
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

// ---------------------------------------------------------------- protocol helpers

async function http(base, pathname, init = {}) {
  const res = await fetch(`${base}${pathname}`, { redirect: 'manual', ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Signs in as the guest and registers a public DCR client; what every scenario needs. */
async function prepare(host) {
  const signIn = await http(host.base, '/api/auth/guest/refresh', {
    method: 'POST',
    headers: { 'x-requested-with': 'XMLHttpRequest' },
  });
  if (signIn.status !== 200) throw new Error(`${host.target}: guest sign-in ${signIn.status} ${signIn.text}`);
  const token = signIn.json().backstageIdentity.token;
  const reg = await http(host.base, '/api/auth/v1/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'bench',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }),
  });
  if (reg.status !== 201) throw new Error(`${host.target}: register ${reg.status} ${reg.text}`);
  const clientId = reg.json().client_id;
  const authorizePath = `/api/auth/v1/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: 'bench-state',
    nonce: 'bench-nonce',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  })}`;
  return { ...host, token, clientId, authorizePath };
}

const sessionIdOf = location => {
  const match = /\/oauth2\/authorize\/([^/?#]+)/.exec(location ?? '');
  if (!match) throw new Error(`not a consent redirect: ${location}`);
  return decodeURIComponent(match[1]);
};
const codeOf = body => new URL(JSON.parse(body).redirectUrl).searchParams.get('code');
const tokenBody = (ctx, code) =>
  JSON.stringify({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER, client_id: ctx.clientId });
const approveHeaders = ctx => ({ authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' });

async function freshCode(ctx) {
  const authorize = await http(ctx.base, ctx.authorizePath);
  if (authorize.status !== 302) throw new Error(`${ctx.target}: authorize ${authorize.status} ${authorize.text}`);
  const sessionId = sessionIdOf(authorize.headers.get('location'));
  const approve = await http(ctx.base, `/api/auth/v1/sessions/${encodeURIComponent(sessionId)}/approve`, {
    method: 'POST',
    headers: approveHeaders(ctx),
  });
  if (approve.status !== 200) throw new Error(`${ctx.target}: approve ${approve.status} ${approve.text}`);
  return codeOf(approve.text);
}

async function freshCodes(ctx, n) {
  const codes = [];
  // A few in parallel, as the load generator would; codes live 60 s on ours.
  while (codes.length < n) {
    codes.push(...(await Promise.all(Array.from({ length: Math.min(10, n - codes.length) }, () => freshCode(ctx)))));
  }
  return codes;
}

// ---------------------------------------------------------------- scenarios

/** autocannon hands headers over with their original case. */
function headersObject(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

let profiles = 0;

/** Runs autocannon; `expect` is the status every response must have. */
async function cannon(ctx, options, tally) {
  const profileName = `${String(++profiles).padStart(3, '0')}-${ctx.target}-${ctx.scenario ?? 'other'}.cpuprofile`;
  await ctx.profiler(`start ${path.join(PROFILE, profileName)}`);
  const cpuBefore = ctx.cpuSeconds();
  const loopBefore = ctx.loopCpuSeconds();
  const result = await autocannon({
    url: ctx.base,
    connections: CONNECTIONS,
    duration: ctx.seconds ?? SECONDS,
    requests: options.requests,
  });
  const cpuSeconds = ctx.cpuSeconds() - cpuBefore;
  const loopSeconds = ctx.loopCpuSeconds() - loopBefore;
  await ctx.profiler('stop');
  const seconds = result.duration;
  for (const [status, body] of Object.entries(tally.samples)) {
    console.log(`  ${ctx.target} ${ctx.scenario ?? ''}: first unexpected ${status}: ${body}`);
  }
  return {
    rps: result.requests.total / seconds,
    cpuMsPerRequest: (cpuSeconds * 1000) / result.requests.total,
    loopMsPerRequest: (loopSeconds * 1000) / result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    failedWith: {
      ...tally.failedWith,
      ...(result.errors ? { error: result.errors } : {}),
      ...(result.timeouts ? { timeout: result.timeouts } : {}),
    },
    units: tally.units ? tally.units / seconds : undefined,
  };
}

/** Unexpected answers counted by what they were, so a report can say what went wrong. */
function newTally(extra = {}) {
  return { failedWith: {}, samples: {}, ...extra };
}

/**
 * Counts `status` as a failure in `tally` unless it is `want`; true when it
 * is. `status` may also name a failure the load generator caused. The first
 * body of each kind is kept for the log.
 */
function check(tally, status, want, body) {
  if (status === want) return true;
  tally.failedWith[status] = (tally.failedWith[status] ?? 0) + 1;
  if (!(status in tally.samples)) tally.samples[status] = String(body ?? '').slice(0, 300);
  return false;
}

function single(method, pathname, expectStatus, extra = {}) {
  return async ctx => {
    const tally = newTally();
    return cannon(
      ctx,
      {
        requests: [
          {
            method,
            path: typeof pathname === 'function' ? pathname(ctx) : pathname,
            headers: extra.headers?.(ctx),
            onResponse: (status, body) => {
              check(tally, status, expectStatus, body);
            },
          },
        ],
      },
      tally,
    );
  };
}

const SCENARIOS = {
  discovery: single('GET', '/api/auth/.well-known/openid-configuration', 200),
  jwks: single('GET', '/api/auth/.well-known/jwks.json', 200),
  'guest sign-in': single('POST', '/api/auth/guest/refresh', 200, {
    headers: () => ({ 'x-requested-with': 'XMLHttpRequest' }),
  }),
  userinfo: single('GET', '/api/auth/v1/userinfo', 200, {
    headers: ctx => ({ authorization: `Bearer ${ctx.token}` }),
  }),
  authorize: single('GET', ctx => ctx.authorizePath, 302),
  'token exchange': async ctx => {
    const seconds = ctx.seconds ?? SECONDS;
    const perSecond = Math.max(CODES_PER_SECOND, 1.5 * (fastestTokenRate.get(ctx.base) ?? 0));
    const codes = await freshCodes(ctx, Math.ceil(perSecond * (seconds + 1)));
    const tally = newTally();
    const result = await cannon(
      ctx,
      {
        requests: [
          {
            method: 'POST',
            path: '/api/auth/v1/token',
            headers: { 'content-type': 'application/json' },
            // A request sent after the pool ran out fails as 'pool exhausted'.
            setupRequest: (req, context) => {
              const code = codes.pop();
              context.poolExhausted = !code;
              return { ...req, body: tokenBody(ctx, code ?? 'pool-exhausted') };
            },
            onResponse: (status, body, context) => {
              check(tally, context.poolExhausted ? 'pool exhausted' : status, 200, body);
            },
          },
        ],
      },
      tally,
    );
    fastestTokenRate.set(ctx.base, Math.max(result.rps, fastestTokenRate.get(ctx.base) ?? 0));
    return result;
  },
  'full flow (authorize → approve → token)': async ctx => {
    const tally = newTally({ units: 0 });
    return cannon(
      ctx,
      {
        requests: [
          {
            method: 'GET',
            path: ctx.authorizePath,
            onResponse: (status, body, context, headers) => {
              check(tally, status, 302, body);
              context.sessionId = status === 302 ? sessionIdOf(headersObject(headers).location) : 'none';
            },
          },
          {
            method: 'POST',
            headers: approveHeaders(ctx),
            setupRequest: (req, context) => ({
              ...req,
              path: `/api/auth/v1/sessions/${encodeURIComponent(context.sessionId)}/approve`,
            }),
            onResponse: (status, body, context) => {
              check(tally, status, 200, body);
              context.code = status === 200 ? codeOf(body) : 'none';
            },
          },
          {
            method: 'POST',
            path: '/api/auth/v1/token',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req, context) => ({ ...req, body: tokenBody(ctx, context.code) }),
            onResponse: (status, body) => {
              if (check(tally, status, 200, body)) tally.units++;
            },
          },
        ],
      },
      tally,
    );
  },
};

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
