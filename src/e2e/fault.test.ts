import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import request from 'supertest';
import { CONFIDENTIAL, codeFlowConfig } from './fixtures/codeFlowClients';
import { withGenerousRateLimits } from './fixtures/generousRateLimits';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { freePort } from '../testUtils/freePort';

jest.setTimeout(240_000);

const run = promisify(execFile);
const SCRIPT = path.resolve(__dirname, '../../scripts/postgres.js');

/** A PostgreSQL of this test's own (scripts/postgres.js), so stopping it disturbs nobody. */
class DedicatedPostgres {
  readonly dir = path.join('/tmp', `auth-fault-pg-${randomBytes(6).toString('hex')}`);
  constructor(readonly port: number) {}

  async start() {
    await run(process.execPath, [SCRIPT, 'start'], { env: this.#env() });
  }
  async stop() {
    await run(process.execPath, [SCRIPT, 'stop'], { env: this.#env() });
  }
  async remove() {
    await rm(this.dir, { recursive: true, force: true });
  }
  #env() {
    return { ...process.env, PORTAL_PG_PORT: String(this.port), PORTAL_PG_DIR: this.dir };
  }
}

const CLIENT = CONFIDENTIAL;
const config = withGenerousRateLimits(codeFlowConfig());

/** Primary keys of the rows that must survive the outage. */
async function keys(knex: Knex) {
  return {
    refreshTokens: await knex('oidc_refresh_tokens').orderBy('token_hash').pluck('token_hash'),
    sessions: await knex('oauth_authorization_sessions').orderBy('id').pluck('id'),
    codes: await knex('oidc_authorization_codes').orderBy('code').pluck('code'),
    userInfo: await knex('user_info').orderBy('user_entity_ref').pluck('user_entity_ref'),
    signingKeys: await knex('signing_keys').orderBy('kid').pluck('kid'),
  };
}

describe('PostgreSQL going away and coming back', () => {
  let pg: DedicatedPostgres;
  let knex: Knex;
  let backend: AuthBackend;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    pg = new DedicatedPostgres(await freePort());
    await pg.start();
    knex = knexFactory({
      client: 'pg',
      connection: { host: '127.0.0.1', port: pg.port, user: 'postgres', password: 'postgres', database: 'postgres' },
      pool: { min: 0, max: 5 },
      acquireConnectionTimeout: 5_000,
      // knex prints every failed connect while the server is down; the test asserts instead.
      log: { warn() {}, error() {}, debug() {}, deprecate() {} },
    });
    backend = await startAuthBackend({ knex, config, entities: [guestUser()] });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await backend?.stop();
    await knex?.destroy();
    await pg?.stop().catch(() => undefined);
    await pg?.remove();
  });

  it('answers 503 while the database is down, keeps running, and recovers with no rows lost', async () => {
    const flow = new CodeFlow(backend, CLIENT);
    const issued = await flow.tokens();
    const pending = await flow.authorize();
    const sessionId = CodeFlow.sessionIdOf(pending.res.headers.location);
    const before = await keys(knex);
    expect(before.refreshTokens).toHaveLength(1);

    // Requests in flight while the server shuts down get a 400 or a 503, never a 500.
    const burst = Array.from({ length: 20 }, (_, i) =>
      flow.token({ grant_type: 'refresh_token', refresh_token: `not-a-token-${i}` }),
    );
    await pg.stop();
    for (const res of await Promise.all(burst)) {
      expect([400, 503]).toContain(res.status);
    }

    // OAuth endpoints: RFC 6749 body, 503, Retry-After.
    const refresh = await flow.token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token! });
    expect(refresh.status).toBe(503);
    expect(refresh.headers['retry-after']).toBe('5');
    expect(refresh.headers['cache-control']).toBe('no-store');
    expect(refresh.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the authorization server is temporarily unavailable; retry later',
    });
    // An authorization request needs no database until its decision (issue 25 item 1).
    const authorize = await flow.authorize();
    expect(authorize.res.status).toBe(302);

    // Backstage routes: the framework's error body with ServiceUnavailableError.
    const session = await request(backend.server).get(`/api/auth/v1/sessions/${sessionId}`);
    expect(session.status).toBe(503);
    expect(session.body).toMatchObject({
      error: { name: 'ServiceUnavailableError' },
      response: { statusCode: 503 },
    });
    expect(JSON.stringify(session.body)).not.toContain(String(pg.port));

    // Still serving what needs no database.
    const discovery = await request(backend.server).get('/api/auth/.well-known/openid-configuration');
    expect(discovery.status).toBe(200);

    await pg.start();
    // Recovery is the pool reconnecting on demand; poll a read-only route (bounded).
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      status = (await request(backend.server).get(`/api/auth/v1/sessions/${sessionId}`)).status;
      if (status !== 200) await new Promise(resolve => setTimeout(resolve, 500));
    }
    expect(status).toBe(200);

    // Everything issued before the outage is still there and still works.
    const after = await keys(knex);
    for (const [table, rows] of Object.entries(before)) {
      expect(after[table as keyof typeof after]).toEqual(expect.arrayContaining(rows));
    }
    const refreshed = await flow.token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token! });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
    expect((await flow.tokens()).access_token).toEqual(expect.any(String));
    expect(unhandled).toEqual([]);
  });
});
