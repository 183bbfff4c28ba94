import { mockServices } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import { runCleanup } from '../service/cleanupTask';
import { createTestDatabases } from '../testUtils/databases';
import { DbCleanupStore } from './DbCleanupStore';
import { applyDatabaseMigrations } from './migrations';

jest.setTimeout(60_000);
const databases = createTestDatabases();

const now = new Date('2026-11-23T12:00:00Z');
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
const HOUR = 3600;
const DAY = 24 * HOUR;

function session(id: string, clientId: string, expiresAt: Date) {
  return {
    id,
    client_id: clientId,
    redirect_uri: 'http://127.0.0.1/cb',
    response_type: 'code',
    status: 'approved',
    expires_at: expiresAt,
  };
}

function refreshToken(hash: string, family: string, status: string, expiresAt: Date, familyExpiresAt: Date) {
  return {
    token_hash: hash,
    family_id: family,
    client_id: 'c',
    user_entity_ref: 'user:default/a',
    status,
    auth_time: at(-30 * DAY),
    created_at: at(-30 * DAY),
    expires_at: expiresAt,
    family_expires_at: familyExpiresAt,
  };
}

function deviceCode(hash: string, clientId: string, status: string, expiresAt: Date) {
  return {
    device_code_hash: hash,
    user_code_hash: `u-${hash}`,
    user_code_key_version: 'v1',
    client_id: clientId,
    status,
    interval_seconds: 5,
    created_at: at(-DAY),
    expires_at: expiresAt,
  };
}

function dynamicClient(clientId: string, issuedAt: Date, extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_secret: '',
    client_name: clientId,
    response_types: '["code"]',
    grant_types: '["authorization_code"]',
    redirect_uris: '["http://127.0.0.1/cb"]',
    metadata: JSON.stringify({
      kind: 'dynamic',
      tokenEndpointAuthMethod: 'none',
      registration: { client_id: clientId, client_id_issued_at: Math.floor(issuedAt.getTime() / 1000) },
      ...extra,
    }),
  };
}

/** `sessions.expired` as connect-session-knex writes it for this dialect. */
function sessionExpiry(knex: Knex, date: Date): string {
  const iso = date.toISOString();
  return String(knex.client.config.client).includes('mysql')
    ? iso.slice(0, 19).replace('T', ' ')
    : iso;
}

const ids = async (knex: Knex, table: string, column: string) =>
  (await knex(table).orderBy(column).pluck(column)) as string[];

describe.each(databases.eachSupportedId())('cleanup on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, store: DbCleanupStore.create({ knex }), logger: mockServices.logger.mock() };
  }

  it('deletes codes and authorization sessions an hour after they expire, and nothing live', async () => {
    const { knex, store, logger } = await setup();
    await knex('oauth_authorization_sessions').insert([
      session('s-old', 'c', at(-2 * HOUR)),
      session('s-recent', 'c', at(-30 * 60)),
      session('s-live', 'c', at(600)),
    ]);
    await knex('oidc_authorization_codes').insert([
      { code: 'k-old', session_id: 's-old', expires_at: at(-2 * HOUR), used: true },
      { code: 'k-orphan-old', session_id: 's-recent', expires_at: at(-2 * HOUR), used: false },
      { code: 'k-recent', session_id: 's-recent', expires_at: at(-60), used: true },
      { code: 'k-live', session_id: 's-live', expires_at: at(60), used: false },
    ]);
    const counts = await runCleanup({ store, now, logger });
    expect(counts).toMatchObject({ authorizationCodes: 2, authorizationSessions: 1 });
    expect(await ids(knex, 'oauth_authorization_sessions', 'id')).toEqual(['s-live', 's-recent']);
    expect(await ids(knex, 'oidc_authorization_codes', 'code')).toEqual(['k-live', 'k-recent']);
  });

  it('deletes browser sessions past their expiry time', async () => {
    const { knex, store, logger } = await setup();
    // connect-session-knex writes ISO strings.
    await knex('sessions').insert([
      { sid: 'gone', sess: '{}', expired: sessionExpiry(knex, at(-1)) },
      { sid: 'kept', sess: '{}', expired: sessionExpiry(knex, at(3600)) },
    ]);
    expect((await runCleanup({ store, now, logger })).browserSessions).toBe(1);
    expect(await ids(knex, 'sessions', 'sid')).toEqual(['kept']);
  });

  it('deletes dead refresh tokens but keeps rotated ancestors of a live family', async () => {
    const { knex, store, logger } = await setup();
    await knex('oidc_refresh_tokens').insert([
      // A live family: its rotated ancestors must stay for reuse detection.
      refreshToken('live-0', 'live', 'rotated', at(-10 * DAY), at(300 * DAY)),
      refreshToken('live-1', 'live', 'active', at(20 * DAY), at(300 * DAY)),
      // Absolute lifetime over (past the retention day).
      refreshToken('abs-1', 'abs', 'active', at(10 * DAY), at(-2 * DAY)),
      // Leaf idle-expired: the whole family is dead.
      refreshToken('idle-0', 'idle', 'rotated', at(-20 * DAY), at(300 * DAY)),
      refreshToken('idle-1', 'idle', 'active', at(-2 * DAY), at(300 * DAY)),
      // Revoked family.
      refreshToken('rev-0', 'rev', 'rotated', at(-5 * DAY), at(300 * DAY)),
      refreshToken('rev-1', 'rev', 'revoked', at(-3 * DAY), at(300 * DAY)),
      // Revoked, but within the retention day.
      refreshToken('fresh-rev', 'fresh', 'revoked', at(-HOUR), at(300 * DAY)),
    ]);
    expect((await runCleanup({ store, now, logger })).refreshTokens).toBe(5);
    expect(await ids(knex, 'oidc_refresh_tokens', 'token_hash')).toEqual([
      'fresh-rev',
      'live-0',
      'live-1',
    ]);
  });

  it('deletes expired device codes whatever their state', async () => {
    const { knex, store, logger } = await setup();
    await knex('oidc_device_codes').insert([
      deviceCode('d-old', 'c', 'consumed', at(-2 * HOUR)),
      deviceCode('d-pending-old', 'c', 'pending', at(-2 * HOUR)),
      deviceCode('d-live', 'c', 'pending', at(300)),
    ]);
    expect((await runCleanup({ store, now, logger })).deviceCodes).toBe(2);
    expect(await ids(knex, 'oidc_device_codes', 'device_code_hash')).toEqual(['d-live']);
  });

  it('keeps a grant, revoked or not, until none of its tokens can be valid', async () => {
    const { knex, store, logger } = await setup();
    const grant = (id: string, expiresAt: Date, revoked: boolean) => ({
      id,
      client_id: 'c',
      user_entity_ref: 'user:default/a',
      created_at: at(-DAY),
      revoked_at: revoked ? at(-HOUR) : null,
      expires_at: expiresAt,
    });
    await knex('oidc_grants').insert([
      grant('g-dead', at(-2 * HOUR), true),
      grant('g-revoked-live', at(22 * HOUR), true),
      grant('g-live', at(HOUR), false),
    ]);
    expect((await runCleanup({ store, now, logger })).grants).toBe(1);
    expect(await ids(knex, 'oidc_grants', 'id')).toEqual(['g-live', 'g-revoked-live']);
  });

  it('deletes only dynamic clients registered over 30 days ago and never used', async () => {
    const { knex, store, logger } = await setup();
    await knex('oidc_clients').insert([
      dynamicClient('unused-old', at(-31 * DAY)),
      dynamicClient('unused-new', at(-29 * DAY)),
      dynamicClient('with-token', at(-40 * DAY)),
      dynamicClient('with-old-session', at(-40 * DAY)),
      dynamicClient('only-unanswered-sessions', at(-40 * DAY)),
      dynamicClient('with-device-use', at(-40 * DAY)),
      dynamicClient('marked-used', at(-40 * DAY), { lastUsedAt: at(-35 * DAY).toISOString() }),
      { ...dynamicClient('metadata-doc', at(-40 * DAY)), metadata: JSON.stringify({ kind: 'metadata-document' }) },
      // Written by upstream: no registration time, so never deleted.
      { ...dynamicClient('upstream-row', at(-40 * DAY)), client_secret: 'x', metadata: null },
    ]);
    await knex('oidc_refresh_tokens').insert({
      ...refreshToken('t', 'f', 'active', at(DAY), at(300 * DAY)),
      client_id: 'with-token',
    });
    // Expired long ago: cleanup deletes it, but must remember the client was used.
    await knex('oauth_authorization_sessions').insert(session('s', 'with-old-session', at(-2 * HOUR)));
    // Anyone can start a session for any client: one nobody approved proves no use (issue 12).
    await knex('oauth_authorization_sessions').insert({
      ...session('p', 'only-unanswered-sessions', at(-2 * HOUR)),
      status: 'pending',
    });
    await knex('oidc_device_codes').insert(deviceCode('d', 'with-device-use', 'consumed', at(-2 * HOUR)));

    const counts = await runCleanup({ store, now, logger, batchSize: 3 });
    expect(counts).toMatchObject({ authorizationSessions: 2, deviceCodes: 1, unusedClients: 2 });
    expect(await ids(knex, 'oidc_clients', 'client_id')).toEqual([
      'marked-used',
      'metadata-doc',
      'unused-new',
      'upstream-row',
      'with-device-use',
      'with-old-session',
      'with-token',
    ]);
    // The next run still keeps the clients whose evidence is gone.
    await runCleanup({ store, now: at(DAY), logger });
    expect(await ids(knex, 'oidc_clients', 'client_id')).toContain('with-old-session');
  });

  it('works through more rows than one batch', async () => {
    const { knex, store, logger } = await setup();
    const rows = Array.from({ length: 25 }, (_, i) => ({
      sid: `s${String(i).padStart(2, '0')}`,
      sess: '{}',
      expired: sessionExpiry(knex, at(-60)),
    }));
    await knex('sessions').insert(rows);
    expect((await runCleanup({ store, now, logger, batchSize: 4 })).browserSessions).toBe(25);
    expect(Number((await knex('sessions').count({ n: '*' }))[0].n)).toBe(0);
  });

  it('skips tables that do not exist yet', async () => {
    const { knex, store, logger } = await setup();
    await knex.schema.dropTable('oidc_device_codes');
    await knex.schema.dropTable('oidc_refresh_tokens');
    await knex('sessions').insert({ sid: 'gone', sess: '{}', expired: sessionExpiry(knex, at(-1)) });
    const counts = await runCleanup({ store, now, logger });
    expect(counts).toMatchObject({ browserSessions: 1, refreshTokens: 0, deviceCodes: 0 });
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
