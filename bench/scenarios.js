/* eslint-disable no-console */
/*
 * The scenarios of bench/run.js: how each target is prepared (a guest token
 * and a public client: pre-registered for this plugin and upstream 0.31, a
 * DCR registration for 0.30.1, which has no pre-registered clients), how
 * codes are minted, and one autocannon run of each scenario with the host's
 * CPU time, its SQL statements and unexpected answers tallied.
 */
const { createHash, randomBytes } = require('node:crypto');
const path = require('node:path');
const autocannon = require('autocannon');
const { PROFILE } = require('./hosts');

/** Seconds per measured run. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = 10;
/** autocannon's sampling interval, which is also how late after its duration a run ends. */
const SAMPLE_MS = 100;
/**
 * Codes minted before each token-exchange run (each is single-use). Runs are
 * timed like the others: autocannon's `amount` mode only stops on a sampling
 * tick, which would quantize req/s. A timed run also ends on a tick
 * (SAMPLE_MS), so it can last that much longer than asked. The pool must
 * outlast that (an exhausted pool shows up as failures, and its quick 400s
 * would inflate req/s): per second of run plus half a second, the larger of
 * CODES_PER_SECOND and twice the fastest rate seen on that host so far
 * (the first run's warm-up is slow); codes live 60 s, and minting even the
 * largest pool takes well under that.
 */
const CODES_PER_SECOND = 1500;
const fastestTokenRate = new Map();
const REDIRECT_URI = 'http://127.0.0.1:9999/callback';
/** The resource server bench/host.ts configures for this plugin (issue 14). */
const RESOURCE = 'https://mcp.example.com/mcp';
const VERIFIER = randomBytes(32).toString('base64url');
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

// ---------------------------------------------------------------- protocol helpers

async function http(base, pathname, init = {}) {
  const res = await fetch(`${base}${pathname}`, { redirect: 'manual', ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** A public client: one of bench/host.ts's pre-registered ones, or a DCR registration on 0.30.1. */
async function clientFor(host, preRegisteredId) {
  if (host.target !== 'upstream-0.30') return preRegisteredId;
  const reg = await http(host.base, '/api/auth/v1/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: preRegisteredId,
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }),
  });
  if (reg.status !== 201) throw new Error(`${host.target}: register ${reg.status} ${reg.text}`);
  return reg.json().client_id;
}

function authorizePathOf(clientId, extra = {}) {
  return `/api/auth/v1/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: 'bench-state',
    nonce: 'bench-nonce',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...extra,
  })}`;
}

/**
 * Signs in as the guest and names the clients every scenario needs. The
 * authorize scenario leaves its requests undecided, so it has a client of its
 * own: upstream stores them, and the others' rows stay what they would be in use.
 */
async function prepare(host) {
  const signIn = await http(host.base, '/api/auth/guest/refresh', {
    method: 'POST',
    headers: { 'x-requested-with': 'XMLHttpRequest' },
  });
  if (signIn.status !== 200) throw new Error(`${host.target}: guest sign-in ${signIn.status} ${signIn.text}`);
  const token = signIn.json().backstageIdentity.token;
  const clientId = await clientFor(host, 'bench');
  const authorizeClientId = await clientFor(host, 'bench-authorize');
  return {
    ...host,
    host,
    token,
    clientId,
    authorizePath: authorizePathOf(clientId),
    undecidedAuthorizePath: authorizePathOf(authorizeClientId),
    resourceAuthorizePath: authorizePathOf(clientId, { scope: 'openid mcp:tools', resource: RESOURCE }),
  };
}

const sessionIdOf = location => {
  const match = /\/oauth2\/authorize\/([^/?#]+)/.exec(location ?? '');
  if (!match) throw new Error(`not a consent redirect: ${location}`);
  return decodeURIComponent(match[1]);
};
const codeOf = body => new URL(JSON.parse(body).redirectUrl).searchParams.get('code');
const tokenBody = (ctx, code, extra = {}) =>
  JSON.stringify({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: VERIFIER,
    client_id: ctx.clientId,
    ...extra,
  });
const approveHeaders = ctx => ({ authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' });

async function freshCode(ctx, authorizePath) {
  const authorize = await http(ctx.base, authorizePath);
  if (authorize.status !== 302) throw new Error(`${ctx.target}: authorize ${authorize.status} ${authorize.text}`);
  const sessionId = sessionIdOf(authorize.headers.get('location'));
  const approve = await http(ctx.base, `/api/auth/v1/sessions/${encodeURIComponent(sessionId)}/approve`, {
    method: 'POST',
    headers: approveHeaders(ctx),
  });
  if (approve.status !== 200) throw new Error(`${ctx.target}: approve ${approve.status} ${approve.text}`);
  return codeOf(approve.text);
}

async function freshCodes(ctx, n, authorizePath) {
  const codes = [];
  // A few in parallel, as the load generator would; codes live 60 s on ours.
  while (codes.length < n) {
    codes.push(
      ...(await Promise.all(Array.from({ length: Math.min(10, n - codes.length) }, () => freshCode(ctx, authorizePath)))),
    );
  }
  return codes;
}

// ---------------------------------------------------------------- rounds

/**
 * The order of `contenders` in round `round` (from 0): rotated by one more
 * each round, and reversed every other round, so drift on a shared machine
 * hits every contender alike.
 */
function inRotation(contenders, round) {
  const shift = round % contenders.length;
  const rotated = [...contenders.slice(shift), ...contenders.slice(0, shift)];
  return round % 2 === 0 ? rotated : rotated.reverse();
}

// ---------------------------------------------------------------- one measured run

/** autocannon hands headers over with their original case. */
function headersObject(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

let profiles = 0;

/**
 * Runs autocannon against `ctx`'s host, bracketed by the host's measurement
 * commands. Statements are reported per request, or per unit (a whole flow)
 * for scenarios that count units. `ctx.sidecars` (the cluster part's proxy
 * and Redis) names other processes whose CPU time per request is reported
 * too; a host whose measureStop() also answers `redisCalls` (the cluster
 * part's) has them reported per request.
 */
async function cannon(ctx, options, tally) {
  // The load generator's own heap too (run.js exposes gc): minting a pool
  // of codes leaves garbage in proportion to the pool, which is sized by
  // the target's own rate, so its collection would slow the faster target's
  // run most (both processes share the machine's two cores).
  global.gc?.();
  const profileName = `${String(++profiles).padStart(3, '0')}-${ctx.database}-${ctx.target}-${ctx.scenario ?? 'other'}.cpuprofile`;
  await ctx.host.measureStart(path.join(PROFILE, profileName));
  const cpuBefore = ctx.host.cpuSeconds();
  const loopBefore = ctx.host.loopCpuSeconds();
  const sidecars = Object.entries(ctx.sidecars ?? {}).map(([name, cpuSeconds]) => ({ name, cpuSeconds, before: cpuSeconds() }));
  const result = await autocannon({
    url: ctx.base,
    connections: CONNECTIONS,
    duration: ctx.seconds ?? SECONDS,
    sampleInt: SAMPLE_MS,
    requests: options.requests,
  });
  const cpuSeconds = ctx.host.cpuSeconds() - cpuBefore;
  const loopSeconds = ctx.host.loopCpuSeconds() - loopBefore;
  const sidecarSeconds = sidecars.map(sidecar => [sidecar.name, sidecar.cpuSeconds() - sidecar.before]);
  const sql = await ctx.host.measureStop();
  const seconds = result.duration;
  for (const [status, body] of Object.entries(tally.samples)) {
    console.log(`  ${ctx.target} ${ctx.scenario ?? ''}: first unexpected ${status}: ${body}`);
  }
  const per = tally.units ?? result.requests.total;
  return {
    rps: result.requests.total / seconds,
    cpuMsPerRequest: (cpuSeconds * 1000) / result.requests.total,
    loopMsPerRequest: (loopSeconds * 1000) / result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    // autocannon's own count of answers outside 2xx (the full flow's 302s
    // included) and of each status, a cross-check of failedWith.
    non2xx: result.non2xx,
    statuses: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([status, { count }]) => [status, count])),
    failedWith: {
      ...tally.failedWith,
      ...(result.errors ? { error: result.errors } : {}),
      ...(result.timeouts ? { timeout: result.timeouts } : {}),
    },
    units: tally.units !== undefined ? tally.units / seconds : undefined,
    statements: sql.statements / per,
    roundTrips: sql.roundTrips / per,
    statementNames: Object.fromEntries(Object.entries(sql.byName).map(([name, n]) => [name, n / per])),
    ...(sidecars.length
      ? {
          sidecarCpuMsPerRequest: Object.fromEntries(
            sidecarSeconds.map(([name, used]) => [name, (used * 1000) / result.requests.total]),
          ),
        }
      : {}),
    ...(sql.redisCalls !== undefined ? { redisCalls: sql.redisCalls / result.requests.total } : {}),
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

/** Token exchange of codes minted just before the run through `authorizePath(ctx)`. */
function tokenExchange(authorizePath, extraBody = {}) {
  return async ctx => {
    const seconds = ctx.seconds ?? SECONDS;
    const key = `${ctx.base} ${authorizePath(ctx)}`;
    const perSecond = Math.max(CODES_PER_SECOND, 2 * (fastestTokenRate.get(key) ?? 0));
    const codes = await freshCodes(ctx, Math.ceil(perSecond * (seconds + 0.5)), authorizePath(ctx));
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
              return { ...req, body: tokenBody(ctx, code ?? 'pool-exhausted', extraBody) };
            },
            onResponse: (status, body, context) => {
              check(tally, context.poolExhausted ? 'pool exhausted' : status, 200, body);
            },
          },
        ],
      },
      tally,
    );
    fastestTokenRate.set(key, Math.max(result.rps, fastestTokenRate.get(key) ?? 0));
    return result;
  };
}

/**
 * The scenarios, in the order they run. `targets` limits one to some
 * targets; `perUnit` says what its statement counts are per.
 */
const SCENARIOS = {
  discovery: { run: single('GET', '/api/auth/.well-known/openid-configuration', 200) },
  jwks: { run: single('GET', '/api/auth/.well-known/jwks.json', 200) },
  'guest sign-in': {
    run: single('POST', '/api/auth/guest/refresh', 200, {
      headers: () => ({ 'x-requested-with': 'XMLHttpRequest' }),
    }),
  },
  userinfo: {
    run: single('GET', '/api/auth/v1/userinfo', 200, {
      headers: ctx => ({ authorization: `Bearer ${ctx.token}` }),
    }),
  },
  authorize: { run: single('GET', ctx => ctx.undecidedAuthorizePath, 302) },
  'token exchange': { run: tokenExchange(ctx => ctx.authorizePath) },
  'token exchange, audience-bound (RFC 9068)': {
    targets: ['ours', 'baseline'],
    // Compared with the plain exchange, so measured in its rounds.
    alongside: 'token exchange',
    run: tokenExchange(ctx => ctx.resourceAuthorizePath, { resource: RESOURCE }),
  },
  'full flow (authorize → approve → token)': {
    perUnit: 'flow',
    run: async ctx => {
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
  },
};

module.exports = { CONNECTIONS, REDIRECT_URI, SCENARIOS, SECONDS, inRotation, prepare };
