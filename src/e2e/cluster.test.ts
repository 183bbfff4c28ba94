/* eslint jest/expect-expect: ["warn", { "assertFunctionNames": ["expect", "expectBudget", "expectPublishedEverywhere"] }] */
import type { TestDatabaseId } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import type { Knex } from 'knex';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { sha256 } from '../oauth/crypto/sha256';
import { CLIENT_BUDGET_FACTOR } from '../oauth/http/rateLimit';
import { ADDRESS_BUDGET_FACTOR } from '../pages/createDevicePageRouter';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL } from './fixtures/codeFlowClients';
import { guestUser } from './fixtures/guestUser';
import { hasRedisServer, type RedisServer, startRedis } from '../testUtils/redisServer';
import { type Cluster, REPLICA_NAMES, type ReplicaName, startCluster } from './harness/cluster';
import { CodeFlow, approveWithToken } from './harness/codeFlow';
import { deviceCli, pollDevice } from './harness/devicePage';
import { headerUserProviderModule, signInWithHeader } from './harness/headerUserProviderModule';
import type { AuthBackend } from './harness/startAuthBackend';

/**
 * Issue 26, "many replicas, one provider": three replicas of the backend on
 * one PostgreSQL database behind a round-robin proxy (harness/cluster.ts).
 *
 * Every budget of the provider is driven from one address (or one client,
 * or one user) through all replicas at once, ten requests at a time. With
 * `backend.cache.store: memory` each replica counts on its own, so about
 * three times a budget gets through: today's behaviour, measured here, not
 * assumed. With `store: redis` the replicas share their counters: what gets
 * through must stay within 25 % of the budget. The measured figures are
 * printed once per store and written to `<tmpdir>/cluster-budgets.json`.
 *
 * Flows cross replicas at every step, survive a replica being killed, and
 * (store: redis) a Redis outage: each replica then counts on its own,
 * answers no 5xx, warns once (`shared store`) and says so once Redis is back
 * (`shared again`). Signing keys: every key a replica signs with is in
 * every replica's JWKS before its first use.
 *
 * PostgreSQL only (the replicas need a database they can share), and only
 * where `redis-server` is installed (.ci/run installs it).
 */

jest.setTimeout(120_000);

const databases = createTestDatabases();
const POSTGRES = databases
  .eachSupportedId()
  .map(([id]) => id)
  .filter(id => id.startsWith('POSTGRES'));
const REDIS_INSTALLED = hasRedisServer();
if (process.env.CI && !REDIS_INSTALLED) {
  // CI must run this suite; a missing binary would silently skip it.
  throw new Error('CI is set but redis-server is not on PATH (.ci/run installs it)');
}
const describeCluster = POSTGRES.length > 0 && REDIS_INSTALLED ? describe : describe.skip;
/** describe.each needs a row even when the suite is skipped. */
const DATABASES: TestDatabaseId[] = POSTGRES.length > 0 ? POSTGRES : ['POSTGRES_18'];

/** Small budgets, an hour long, so no window rolls over while a test runs. */
const BUDGET = {
  authorization: 40,
  registration: 20,
  token: 40,
  deviceAuthorization: 30,
  verification: 5,
} as const;

/** Requests sent at once through the proxy. */
const CONCURRENCY = 10;

/** A confidential client of its own for each client budget, so no test spends another's. */
const BUDGET_WEB_APP = {
  clientId: 'budget-web-app',
  clientSecret: 'a-long-configured-secret-for-budgets',
  redirectUri: 'https://budget.example.com/callback',
};
const BUDGET_DEVICE_APP = { ...BUDGET_WEB_APP, clientId: 'budget-device-app' };
/** A public client whose only user budget is the one measured. */
const BUDGET_CLI = { clientId: 'budget-cli', redirectUri: 'http://127.0.0.1/callback' };
/** A confidential client that asked for RS256 ID tokens (OIDC Registration §2). */
const RS256_RP = {
  clientId: 'rs256-rp',
  clientSecret: 'a-long-configured-secret-for-rs256',
  redirectUri: 'https://rp.example.com/callback',
};

function clusterConfig(): JsonObject {
  const window = '1h';
  const confidential = (client: typeof BUDGET_WEB_APP, extra: JsonObject = {}) => ({
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    redirectUris: [client.redirectUri],
    grantTypes: ['authorization_code', 'refresh_token'],
    ...extra,
  });
  return {
    auth: {
      providers: { header: {} },
      experimentalRefreshToken: { enabled: true },
      experimentalDynamicClientRegistration: { enabled: true },
      oidcProvider: {
        signInProvider: 'guest',
        deviceAuthorization: { enabled: true, interval: { seconds: 1 }, allowedClientIds: ['device-cli'] },
        rateLimits: Object.fromEntries(
          Object.entries(BUDGET).map(([endpoint, requests]) => [endpoint, { requests, window }]),
        ),
        clients: [
          confidential(CONFIDENTIAL as typeof BUDGET_WEB_APP),
          confidential(BUDGET_WEB_APP),
          confidential(BUDGET_DEVICE_APP),
          confidential(RS256_RP, { idTokenSignedResponseAlg: 'RS256' }),
          {
            clientId: BUDGET_CLI.clientId,
            public: true,
            redirectUris: [BUDGET_CLI.redirectUri],
            grantTypes: ['authorization_code', 'refresh_token'],
          },
          deviceCli,
        ],
      },
    },
  };
}

const GUEST = 'user:development/guest';
/** What every cluster here runs: the config above, the guest in the catalog, a provider signing in anyone. */
const CLUSTER = { config: clusterConfig(), entities: [guestUser()], features: [headerUserProviderModule] };

// ─── Measuring a budget ───────────────────────────────────────────────────

/** What one budget let through, as measured. */
interface Measured {
  store: string;
  limit: string;
  configured: number;
  /** Requests answered, refused or not. */
  sent: number;
  /** Requests the limit let through (any answer but 429). */
  allowed: number;
  /** Requests let through before the first refusal was answered. */
  allowedBeforeFirstRefusal: number;
  /** Answers by status. */
  statuses: Record<string, number>;
}

const measurements: Measured[] = [];

/**
 * Sends `send(0)`, `send(1)`, … {@link CONCURRENCY} at a time until two
 * whole rounds in a row are refused (429), or four times the budget and two
 * rounds more were sent; counts what got through.
 */
async function measure(
  store: string,
  limit: string,
  configured: number,
  send: (i: number) => Promise<{ status: number }>,
): Promise<Measured> {
  const max = configured * 4 + CONCURRENCY * 2;
  const answered: number[] = [];
  let refusedRounds = 0;
  let sent = 0;
  while (sent < max && refusedRounds < 2) {
    const first = sent;
    const round = Array.from({ length: Math.min(CONCURRENCY, max - first) }, (_, k) => first + k);
    const statuses = await Promise.all(
      round.map(i =>
        send(i).then(res => {
          answered.push(res.status);
          return res.status;
        }),
      ),
    );
    sent += round.length;
    refusedRounds = statuses.every(status => status === 429) ? refusedRounds + 1 : 0;
  }
  const firstRefusal = answered.indexOf(429);
  const statuses: Record<string, number> = {};
  for (const status of answered) statuses[status] = (statuses[status] ?? 0) + 1;
  const measured: Measured = {
    store,
    limit,
    configured,
    sent: answered.length,
    allowed: answered.filter(status => status !== 429).length,
    allowedBeforeFirstRefusal: firstRefusal === -1 ? answered.length : firstRefusal,
    statuses,
  };
  measurements.push(measured);
  return measured;
}

/** Each replica counts on its own: nearly three budgets get through (more than two). */
function expectPerReplica(measured: Measured) {
  expect(Object.keys(measured.statuses).filter(status => Number(status) >= 500)).toEqual([]);
  expect(measured.allowed).toBeGreaterThan(2 * measured.configured);
}

/** The replicas share one budget: what gets through is within 25 % of it. */
function expectShared(measured: Measured) {
  expect(Object.keys(measured.statuses).filter(status => Number(status) >= 500)).toEqual([]);
  expect(measured.allowed).toBeLessThanOrEqual(1.25 * measured.configured);
  expect(measured.allowed).toBeGreaterThanOrEqual(0.75 * measured.configured);
}

function report(store: string) {
  const rows = measurements.filter(m => m.store === store);
  if (rows.length === 0) return;
  const line = (cells: Array<string | number>) => cells.map(String).map((c, i) => (i ? c.padStart(12) : c.padEnd(44))).join('');
  const table = [
    `budgets through 3 replicas, backend.cache.store: ${store} (${CONCURRENCY} requests at a time)`,
    line(['limit', 'budget', 'allowed', 'ratio', 'before 1st', 'sent']),
    ...rows.map(m => line([m.limit, m.configured, m.allowed, (m.allowed / m.configured).toFixed(2), m.allowedBeforeFirstRefusal, m.sent])),
  ].join('\n');
  // eslint-disable-next-line no-console
  console.log(table);
  const file = path.join(os.tmpdir(), 'cluster-budgets.json');
  let previous: Measured[] = [];
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8')).filter((m: Measured) => m.store !== store);
  } catch {
    // none yet
  }
  fs.writeFileSync(file, JSON.stringify([...previous, ...rows], null, 2));
}

// ─── Requests ─────────────────────────────────────────────────────────────

/** `198.18.<block>.<n>` (RFC 2544 benchmarking addresses): one block per test, so no test spends another's budget. */
const address = (block: number, n = 1) => `198.18.${block}.${n}`;

/** A wrong user code, a different one each time (no live code can match: 20^8 of them). */
const wrongCode = (i: number) => `BBBB-${'BCDFGHJKLMNPQRSTVWXZ'[i % 20]}${'BCDFGHJKLMNPQRSTVWXZ'[Math.floor(i / 20) % 20]}BB`;

const CSRF = 'c'.repeat(43);
const pageCookies = (userToken: string) => [`oidc-pages-user=${userToken}`, `oidc-pages-csrf=${CSRF}`];

/** Enters a user code on the device page as the user whose Backstage token is `userToken`. */
function enterUserCode(at: AuthBackend, userToken: string, userCode: string) {
  return request(at.server)
    .post('/api/auth/v1/device')
    .set('Cookie', pageCookies(userToken))
    .type('form')
    .send({ csrf: CSRF, user_code: userCode });
}

/** Enters the code and approves on the device page; returns the decision's redirect. */
async function approveDevice(at: AuthBackend, userToken: string, userCode: string): Promise<string> {
  const confirm = await enterUserCode(at, userToken, userCode);
  const hash = /name="request" value="([0-9a-f]{64})"/.exec(confirm.text)?.[1];
  if (confirm.status !== 200 || !hash) throw new Error(`code entry failed: ${confirm.status}`);
  const decision = await request(at.server)
    .post('/api/auth/v1/device/decision')
    .set('Cookie', pageCookies(userToken))
    .type('form')
    .send({ csrf: CSRF, request: hash, decision: 'approve' });
  return String(decision.headers.location);
}

/** A device authorization request of the device CLI. */
function startDevice(at: AuthBackend) {
  return request(at.server)
    .post('/api/auth/v1/device_authorization')
    .type('form')
    .send({ client_id: 'device-cli', scope: 'openid' });
}

const whoami = (at: AuthBackend, token: string) =>
  request(at.server).get('/api/whoami/me').auth(token, { type: 'bearer' });

const jwksOf = async (at: AuthBackend): Promise<JWK[]> =>
  (await request(at.server).get('/api/auth/.well-known/jwks.json')).body.keys;

const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid!;

/** The tables whose rows a flow leaves, and how many each has. */
async function rowCounts(knex: Knex): Promise<Record<string, number>> {
  const tables = [
    'oauth_authorization_sessions',
    'oidc_authorization_codes',
    'oidc_grants',
    'oidc_refresh_tokens',
    'oidc_device_codes',
    'signing_keys',
    'user_info',
  ];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const [{ n }] = await knex(table).count({ n: '*' });
    counts[table] = Number(n);
  }
  return counts;
}

const sharedStoreWarnings = (cluster: Cluster, name: ReplicaName) =>
  cluster.replica(name).logs.filter(l => l.level === 'warn' && l.message.includes('shared store'));
const sharedAgainLines = (cluster: Cluster, name: ReplicaName) =>
  cluster.replica(name).logs.filter(l => l.level === 'info' && l.message.includes('shared again'));

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

// ─── The suites ───────────────────────────────────────────────────────────

/** The tests both stores run; `expectBudget` is what their budgets must show. */
function clusterTests(
  store: 'memory' | 'redis',
  env: () => { cluster: Cluster; knex: Knex },
  expectBudget: (measured: Measured) => void,
) {
  it(`gives every replica backend-defaults' cache service, not a mock`, () => {
    const { cluster } = env();
    for (const replica of cluster.replicas) {
      // startTestBackend's default is mockServices.cache; createBackend's is this one.
      expect(replica.cache.constructor.name).toBe('DefaultCacheClient');
    }
  });

  it('charges the client address the proxy forwards, on every replica', async () => {
    const { cluster, knex } = env();
    for (const replica of REPLICA_NAMES) {
      const started = await startDevice(cluster.via({ replica, address: address(12, 7) }));
      expect(started.status).toBe(200);
      const row = await knex('oidc_device_codes').where({ device_code_hash: sha256(started.body.device_code) }).first();
      expect(row.request_ip).toBe(address(12, 7));
    }
  });

  describe('budgets driven through every replica at once', () => {
    it(`authorization: ${BUDGET.authorization} per address`, async () => {
      const from = env().cluster.via({ address: address(1) });
      const flow = new CodeFlow(from, CONFIDENTIAL);
      expectBudget(
        await measure(store, 'authorization per address', BUDGET.authorization, async () => (await flow.authorize()).res),
      );
    });

    it(`registration: ${BUDGET.registration} per address`, async () => {
      const from = env().cluster.via({ address: address(2) });
      const register = () =>
        request(from.server)
          .post('/api/auth/v1/register')
          .send({ client_name: 'x', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' });
      expectBudget(await measure(store, 'registration per address', BUDGET.registration, register));
    });

    it(`device authorization: ${BUDGET.deviceAuthorization} per address`, async () => {
      const from = env().cluster.via({ address: address(3) });
      expectBudget(
        await measure(store, 'deviceAuthorization per address', BUDGET.deviceAuthorization, () => startDevice(from)),
      );
    });

    it(`token: ${BUDGET.token} per address`, async () => {
      const flow = new CodeFlow(env().cluster.via({ address: address(4) }), { clientId: 'internal-cli', redirectUri: '' });
      expectBudget(
        await measure(store, 'token per address', BUDGET.token, i =>
          flow.token({ grant_type: 'refresh_token', refresh_token: `bogus-${i}` }),
        ),
      );
    });

    it(`token: ${BUDGET.token * CLIENT_BUDGET_FACTOR} per confidential client, from many addresses`, async () => {
      const { cluster } = env();
      // Half an address budget from each address, so only the client's budget can run out.
      const perAddress = BUDGET.token / 2;
      const flows = new Map<number, CodeFlow>();
      const flowFor = (n: number) => {
        if (!flows.has(n)) flows.set(n, new CodeFlow(cluster.via({ address: address(5, n) }), BUDGET_WEB_APP));
        return flows.get(n)!;
      };
      expectBudget(
        await measure(store, 'token per confidential client', BUDGET.token * CLIENT_BUDGET_FACTOR, i =>
          flowFor(Math.floor(i / perAddress)).token({ grant_type: 'refresh_token', refresh_token: `bogus-${i}` }),
        ),
      );
    });

    it(`device authorization: ${BUDGET.deviceAuthorization * CLIENT_BUDGET_FACTOR} per confidential client, from many addresses`, async () => {
      const { cluster } = env();
      const perAddress = BUDGET.deviceAuthorization / 2;
      const { clientId, clientSecret } = BUDGET_DEVICE_APP;
      // Charged once authenticated; then refused as not allowed the grant (400), leaving no row.
      expectBudget(
        await measure(store, 'deviceAuthorization per confidential client', BUDGET.deviceAuthorization * CLIENT_BUDGET_FACTOR, i =>
          request(cluster.via({ address: address(6, Math.floor(i / perAddress)) }).server)
            .post('/api/auth/v1/device_authorization')
            .auth(clientId, clientSecret)
            .type('form')
            .send({ scope: 'openid' }),
        ),
      );
    });

    it(`token: ${BUDGET.token} grants per user of a public client, from many addresses`, async () => {
      const { cluster } = env();
      const perAddress = BUDGET.token / 2;
      const count = BUDGET.token * 4 + CONCURRENCY * 2;
      const { token } = await cluster.via({ address: address(7) }).signInAsGuest();
      // Codes first (authorization and the consent API only), then their redemptions are measured.
      const codes: Array<{ code: string; verifier: string }> = [];
      for (let start = 0; start < count; start += CONCURRENCY) {
        codes.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(CONCURRENCY, count - start) }, async (_, k) => {
              const at = cluster.via({ address: address(8, Math.floor((start + k) / perAddress)) });
              const { code, verifier } = await new CodeFlow(at, BUDGET_CLI).approvedCode({ scope: 'openid' }, token);
              return { code, verifier };
            }),
          )),
        );
      }
      expectBudget(
        await measure(store, 'token per (public client, user)', BUDGET.token, i =>
          new CodeFlow(cluster.via({ address: address(9, Math.floor(i / perAddress)) }), BUDGET_CLI).redeem(
            codes[i].code,
            codes[i].verifier,
          ),
        ),
      );
    });

    it(`verification: ${BUDGET.verification} wrong user codes per user`, async () => {
      const from = env().cluster.via({ address: address(10) });
      const { token } = await signInWithHeader(from, 'user:default/typist');
      expectBudget(
        await measure(store, 'verification per user', BUDGET.verification, i => enterUserCode(from, token, wrongCode(i))),
      );
    });

    it(`verification: ${BUDGET.verification * ADDRESS_BUDGET_FACTOR} wrong user codes per address, from many users`, async () => {
      const from = env().cluster.via({ address: address(11) });
      // Fewer than a user's budget each, so only the address's can run out.
      const perUser = BUDGET.verification - 2;
      const users = Math.ceil((BUDGET.verification * ADDRESS_BUDGET_FACTOR * 4 + CONCURRENCY * 2) / perUser);
      const tokens: string[] = [];
      for (let start = 0; start < users; start += CONCURRENCY) {
        tokens.push(
          ...(await Promise.all(
            Array.from(
              { length: Math.min(CONCURRENCY, users - start) },
              async (_, k) => (await signInWithHeader(from, `user:default/office-${start + k}`)).token,
            ),
          )),
        );
      }
      expectBudget(
        await measure(store, 'verification per address', BUDGET.verification * ADDRESS_BUDGET_FACTOR, i =>
          enterUserCode(from, tokens[Math.floor(i / perUser)], wrongCode(i)),
        ),
      );
    });
  });

  describe('flows crossing replicas', () => {
    it('signs in with authorize on A, consent on B and the code redeemed on C', async () => {
      const { cluster } = env();
      const on = (replica: ReplicaName) => cluster.via({ replica, address: address(20) });
      const { res, verifier } = await new CodeFlow(on('A'), CONFIDENTIAL).authorize();
      expect(res.status).toBe(302);
      const { token } = await on('B').signInAsGuest();
      const callback = await approveWithToken(on('B'), CodeFlow.sessionIdOf(res.headers.location), token);
      const redeemed = await new CodeFlow(on('C'), CONFIDENTIAL).redeem(callback.searchParams.get('code')!, verifier);
      expect(redeemed.status).toBe(200);
      // One issuer; every replica publishes the key and accepts the access token.
      for (const name of REPLICA_NAMES) {
        const { payload } = await jwtVerify(redeemed.body.id_token, createLocalJWKSet({ keys: await jwksOf(on(name)) }), {
          issuer: cluster.issuer,
          audience: CONFIDENTIAL.clientId,
        });
        expect(payload.sub).toBe(GUEST);
        expect((await whoami(on(name), redeemed.body.access_token)).body.userEntityRef).toBe(GUEST);
      }
    });

    it('completes a device flow started on A, approved on B and polled on C', async () => {
      const { cluster } = env();
      const on = (replica: ReplicaName) => cluster.via({ replica, address: address(21) });
      const started = await startDevice(on('A'));
      expect(started.status).toBe(200);
      const { token } = await on('B').signInAsGuest();
      expect(await approveDevice(on('B'), token, started.body.user_code)).toMatch(/result=approved$/);
      const polled = await pollDevice(on('C'), started.body.device_code);
      expect(polled.status).toBe(200);
      expect((await whoami(cluster.via(), polled.body.access_token)).body.userEntityRef).toBe(GUEST);
    });

    it('refreshes on each replica in turn', async () => {
      const { cluster } = env();
      const on = (replica: ReplicaName) => cluster.via({ replica, address: address(22) });
      let tokens = await new CodeFlow(on('A'), CONFIDENTIAL).tokens();
      for (const name of [...REPLICA_NAMES, ...REPLICA_NAMES]) {
        const res = await new CodeFlow(on(name), CONFIDENTIAL).token({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token!,
        });
        expect(res.status).toBe(200);
        tokens = res.body;
      }
      for (const name of REPLICA_NAMES) {
        expect((await whoami(on(name), tokens.access_token)).status).toBe(200);
      }
    });
  });
}

/** The tests that kill replicas: last, as the cluster has one replica left after them. */
function killTests(env: () => { cluster: Cluster; knex: Knex }) {
  describe('a replica killed mid-flow', () => {
    it('completes a sign-in whose consenting replica B dies before the code is redeemed on C', async () => {
      const { cluster, knex } = env();
      const on = (replica: ReplicaName) => cluster.via({ replica, address: address(30) });
      const { res, verifier } = await new CodeFlow(on('A'), CONFIDENTIAL).authorize();
      const { token } = await on('B').signInAsGuest();
      const callback = await approveWithToken(on('B'), CodeFlow.sessionIdOf(res.headers.location), token);
      const before = await rowCounts(knex);

      await cluster.kill('B');
      const redeemed = await new CodeFlow(on('C'), CONFIDENTIAL).redeem(callback.searchParams.get('code')!, verifier);
      expect(redeemed.status).toBe(200);
      // B's token (B signed it) still verifies on the survivors: B's key outlives B.
      for (const name of ['A', 'C'] as const) {
        expect((await whoami(on(name), token)).status).toBe(200);
      }
      const refreshed = await new CodeFlow(on('A'), CONFIDENTIAL).token({
        grant_type: 'refresh_token',
        refresh_token: redeemed.body.refresh_token,
      });
      expect(refreshed.status).toBe(200);
      // Through the proxy nothing reaches B now.
      expect((await request(on('B').server).get('/api/auth/.well-known/jwks.json')).status).toBe(502);

      const after = await rowCounts(knex);
      for (const [table, count] of Object.entries(before)) {
        expect({ table, rows: after[table] >= count }).toEqual({ table, rows: true });
      }
      expect(after.oidc_refresh_tokens).toBeGreaterThan(before.oidc_refresh_tokens);
    });

    it('completes a device flow whose polling replica C dies', async () => {
      const { cluster, knex } = env();
      const on = (replica: ReplicaName) => cluster.via({ replica, address: address(31) });
      const started = await startDevice(on('C'));
      expect(started.status).toBe(200);
      const pending = await pollDevice(on('C'), started.body.device_code);
      expect(pending.body.error).toBe('authorization_pending');
      const before = await rowCounts(knex);

      await cluster.kill('C');
      const { token } = await on('A').signInAsGuest();
      expect(await approveDevice(on('A'), token, started.body.user_code)).toMatch(/result=approved$/);
      // The device keeps to its interval (1 s), then polls whoever the proxy picks: A.
      await sleep(1100);
      const polled = await pollDevice(cluster.via({ address: address(31) }), started.body.device_code);
      expect(polled.status).toBe(200);
      expect(polled.body.token_type).toBe('Bearer');

      const after = await rowCounts(knex);
      for (const [table, count] of Object.entries(before)) {
        expect({ table, rows: after[table] >= count }).toEqual({ table, rows: true });
      }
      const [row] = await knex('oidc_device_codes').where({ status: 'consumed' }).orderBy('created_at', 'desc').limit(1);
      expect(row).toBeDefined();
    });
  });
}

describeCluster.each(DATABASES)('three replicas on one %s database', databaseId => {
  describe('backend.cache.store: memory (each replica counts on its own)', () => {
    let knex: Knex;
    let cluster: Cluster;
    const env = () => ({ cluster, knex });

    beforeAll(async () => {
      knex = await databases.init(databaseId);
      cluster = await startCluster({ knex, store: 'memory', ...CLUSTER });
    });
    afterAll(async () => {
      report('memory');
      await cluster?.stop();
    });

    clusterTests('memory', env, expectPerReplica);
    killTests(env);
  });

  describe('backend.cache.store: redis (the replicas share their budgets)', () => {
    let knex: Knex;
    let cluster: Cluster;
    let redis: RedisServer;
    const env = () => ({ cluster, knex });

    beforeAll(async () => {
      redis = await startRedis();
      knex = await databases.init(databaseId);
      cluster = await startCluster({ knex, store: 'redis', redis, ...CLUSTER });
    });
    afterAll(async () => {
      report('redis');
      await cluster?.stop();
      await redis?.close();
    });

    clusterTests('redis', env, expectShared);

    describe('Redis stopped mid-run, then started again', () => {
      it('keeps signing in with no 5xx, and each replica warns once that it lost the shared store', async () => {
        const from = cluster.responses.length;
        await redis.stop('SIGKILL');
        // Sign-ins through the proxy, every step on the next replica; then a
        // burst over a budget, so every replica needs its counters.
        for (let i = 0; i < 3; i++) {
          const tokens = await new CodeFlow(cluster.via({ address: address(40, i) }), CONFIDENTIAL).tokens();
          expect(tokens.token_type).toBe('Bearer');
        }
        // Four budgets from one address: each replica, counting alone again, refuses some.
        const burst = new CodeFlow(cluster.via({ address: address(41) }), { clientId: 'internal-cli', redirectUri: '' });
        for (let start = 0; start < BUDGET.token * 4; start += CONCURRENCY) {
          await Promise.all(
            Array.from({ length: CONCURRENCY }, (_, k) =>
              burst.token({ grant_type: 'refresh_token', refresh_token: `bogus-${start + k}` }),
            ),
          );
        }
        const during = cluster.responses.slice(from);
        expect(during.filter(r => r.status >= 500)).toEqual([]);
        for (const name of REPLICA_NAMES) {
          expect(during.some(r => r.replica === name && r.status === 429)).toBe(true);
          expect({ replica: name, warnings: sharedStoreWarnings(cluster, name).length }).toEqual({
            replica: name,
            warnings: 1,
          });
        }
      }, 60_000);

      it('shares the budgets again once Redis is back, and says so', async () => {
        if (!redis.running) await redis.start();
        // Every replica notices on its next use of the store: one request
        // each, until all three have said so (at most about 10 s).
        const allSaidSo = () => REPLICA_NAMES.every(name => sharedAgainLines(cluster, name).length > 0);
        const tokenRequestOnEach = (n: number) =>
          Promise.all(
            REPLICA_NAMES.map(replica =>
              new CodeFlow(cluster.via({ replica, address: address(42, n) }), { clientId: 'internal-cli', redirectUri: '' }).token({
                grant_type: 'refresh_token',
                refresh_token: 'bogus',
              }),
            ),
          );
        for (let n = 0; n < 40 && !allSaidSo(); n++) {
          await tokenRequestOnEach(n);
          await sleep(250);
        }
        const flow = new CodeFlow(cluster.via({ address: address(43) }), CONFIDENTIAL);
        const measured = await measure('redis', 'authorization per address, after the outage', BUDGET.authorization, async () =>
          (await flow.authorize()).res,
        );
        for (const name of REPLICA_NAMES) {
          expect({ replica: name, lines: sharedAgainLines(cluster, name).length }).toEqual({ replica: name, lines: 1 });
          expect({ replica: name, warnings: sharedStoreWarnings(cluster, name).length }).toEqual({
            replica: name,
            warnings: 1,
          });
        }
        expectShared(measured);
      }, 60_000);
    });

    killTests(env);
  });

  describe('signing keys across replicas', () => {
    let knex: Knex;
    let cluster: Cluster;
    let startedAt: number;

    beforeAll(async () => {
      // Only Date is faked (and keeps running): the test moves the clock the
      // replicas read to their next key rotation; timers stay real.
      jest.useFakeTimers({
        advanceTimers: true,
        doNotFake: [
          'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame',
          'cancelAnimationFrame', 'requestIdleCallback', 'cancelIdleCallback', 'setImmediate',
          'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout',
        ],
      });
      startedAt = Date.now();
      knex = await databases.init(databaseId);
      cluster = await startCluster({ knex, store: 'memory', ...CLUSTER });
    });
    afterAll(async () => {
      await cluster?.stop();
      jest.useRealTimers();
    });

    const on = (replica: ReplicaName) => cluster.via({ replica, address: address(50) });
    /** Each replica's JWKS as a verifier would cache it now. */
    const publishedNow = async () =>
      Object.fromEntries(
        await Promise.all(REPLICA_NAMES.map(async name => [name, (await jwksOf(on(name))).map(k => k.kid)] as const)),
      );
    /** The kid each replica signs a user token with now. */
    const signingKids = async () =>
      Object.fromEntries(
        await Promise.all(REPLICA_NAMES.map(async name => [name, kidOf((await on(name).signInAsGuest()).token)] as const)),
      );
    function expectPublishedEverywhere(published: Record<string, Array<string | undefined>>, kids: Record<string, string>) {
      for (const [signer, kid] of Object.entries(kids)) {
        for (const [publisher, listed] of Object.entries(published)) {
          expect({ signer, publisher, listed: listed.includes(kid) }).toEqual({ signer, publisher, listed: true });
        }
      }
    }

    it("publishes every replica's key on every replica's JWKS before any of them signs", async () => {
      const published = await publishedNow();
      const kids = await signingKids();
      expect(new Set(Object.values(kids)).size).toBe(3);
      expectPublishedEverywhere(published, kids);
    });

    it("publishes every replica's RS256 key on every JWKS before its first ID token", async () => {
      // A relying party that asked for RS256 (jose's remote JWKS: it fetches
      // again on an unknown kid, at most every 30 s) signs in through each
      // replica in turn. Every replica's JWKS is read first, as a verifier
      // would cache it.
      const published = await publishedNow();
      const relyingParty = createRemoteJWKSet(new URL(`${cluster.issuer}/.well-known/jwks.json`));
      const kids: Record<string, string> = {};
      const verified: Record<string, string> = {};
      for (const name of REPLICA_NAMES) {
        const tokens = await new CodeFlow(on(name), RS256_RP).tokens({ scope: 'openid' });
        expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
        kids[name] = kidOf(tokens.id_token!);
        verified[name] = await jwtVerify(tokens.id_token!, relyingParty, { issuer: cluster.issuer }).then(
          () => 'verified',
          (error: Error) => `${error.name}: ${error.message}`,
        );
      }
      expect(verified).toEqual({ A: 'verified', B: 'verified', C: 'verified' });
      expectPublishedEverywhere(published, kids);
    });

    it("publishes each replica's next key on every JWKS before the replica rotates to it", async () => {
      const before = await signingKids();
      // Four minutes before rotation (auth.backstageTokenExpiration, 1 h by
      // default): each replica pre-publishes its next key as it signs.
      jest.setSystemTime(startedAt + 56 * 60_000);
      expect(await signingKids()).toEqual(before);
      // A replica lists its own pre-published key once stored; then every
      // replica's JWKS is read, as a verifier would cache it.
      await publishedNow();
      const published = await publishedNow();
      jest.setSystemTime(startedAt + 61 * 60_000);
      const after = await signingKids();
      for (const name of REPLICA_NAMES) expect(after[name]).not.toBe(before[name]);
      expectPublishedEverywhere(published, after);
    });

  });
});
