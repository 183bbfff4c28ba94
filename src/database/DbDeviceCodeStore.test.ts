import type { Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { DbDeviceCodeStore } from './DbDeviceCodeStore';
import { applyDatabaseMigrations } from './migrations';

const databases = createTestDatabases();

function aRequest(overrides: Partial<{ deviceCodeHash: string; userCodeHash: string; expiresAt: Date }> = {}) {
  const now = new Date('2026-11-23T12:00:00.000Z');
  return {
    deviceCodeHash: 'dch-1',
    userCodeHash: 'uch-1',
    userCodeKeyVersion: 'v1',
    clientId: 'cli',
    scopes: ['openid', 'profile'],
    intervalSeconds: 5,
    requestIp: '127.0.0.1',
    requestUserAgent: 'curl/8',
    createdAt: now,
    expiresAt: new Date(now.getTime() + 600_000),
    ...overrides,
  };
}

describe.each(databases.eachSupportedId())('DbDeviceCodeStore on %p', databaseId => {
  let knex: Knex;
  let now: Date;
  let store: DbDeviceCodeStore;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
  });

  beforeEach(async () => {
    await knex('oidc_device_codes').delete();
    now = new Date('2026-11-23T12:00:00.000Z');
    store = DbDeviceCodeStore.create({ knex, clock: () => now });
  });

  it('creates one HMAC key that every instance shares', async () => {
    const other = DbDeviceCodeStore.create({ knex, clock: () => now });
    const [a, b] = await Promise.all([store.userCodeKeys(), other.userCodeKeys()]);
    expect(a).toHaveLength(1);
    expect(a[0].secret.equals(b[0].secret)).toBe(true);
    expect(a[0].secret.length).toBe(32);
  });

  it('stores a request and finds it by either hash', async () => {
    expect(await store.create(aRequest())).toBe(true);
    const byDevice = await store.findByDeviceCodeHash('dch-1');
    expect(byDevice).toMatchObject({
      clientId: 'cli',
      scopes: ['openid', 'profile'],
      status: 'pending',
      intervalSeconds: 5,
      requestIp: '127.0.0.1',
    });
    expect(byDevice!.expiresAt.toISOString()).toBe('2026-11-23T12:10:00.000Z');
    expect(await store.findByUserCodeHashes(['other', 'uch-1'])).toMatchObject({ deviceCodeHash: 'dch-1' });
    expect(await store.findByUserCodeHashes(['other'])).toBeUndefined();
  });

  it('refuses a second request with the same user code hash', async () => {
    expect(await store.create(aRequest())).toBe(true);
    expect(await store.create(aRequest({ deviceCodeHash: 'dch-2' }))).toBe(false);
    expect(await store.findByDeviceCodeHash('dch-2')).toBeUndefined();
  });

  it('records one decision only, and none after expiry', async () => {
    await store.create(aRequest());
    await store.create(aRequest({ deviceCodeHash: 'dch-2', userCodeHash: 'uch-2', expiresAt: now }));
    const decide = (decision: 'approved' | 'denied', hash = 'dch-1') =>
      store.decide({ deviceCodeHash: hash, decision, userEntityRef: 'user:default/guest', now });
    const results = await Promise.all([decide('approved'), decide('denied'), decide('approved')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await decide('approved', 'dch-2')).toBe(false);
    expect((await store.findByDeviceCodeHash('dch-2'))!.status).toBe('pending');
  });

  it('consumes an approved request exactly once when polls race', async () => {
    await store.create(aRequest());
    expect(await store.consume({ deviceCodeHash: 'dch-1', now })).toBe(false); // still pending
    await store.decide({ deviceCodeHash: 'dch-1', decision: 'approved', userEntityRef: 'user:default/guest', now });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.consume({ deviceCodeHash: 'dch-1', now })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await store.findByDeviceCodeHash('dch-1'))!.status).toBe('consumed');
  });

  it('counts a poll only when it respects the interval, and slows down by 5 s', async () => {
    await store.create(aRequest());
    const poll = async () =>
      store.recordPoll({ record: (await store.findByDeviceCodeHash('dch-1'))!, now });
    expect(await poll()).toBe(true);
    now = new Date(now.getTime() + 4_000);
    expect(await poll()).toBe(false);
    await store.slowDown({ deviceCodeHash: 'dch-1', increaseSeconds: 5, now });
    expect((await store.findByDeviceCodeHash('dch-1'))!.intervalSeconds).toBe(10);
    now = new Date(now.getTime() + 9_000);
    expect(await poll()).toBe(false);
    now = new Date(now.getTime() + 1_000);
    expect(await poll()).toBe(true);
  });

  it('lets only one of two racing polls count', async () => {
    await store.create(aRequest());
    const record = (await store.findByDeviceCodeHash('dch-1'))!;
    const results = await Promise.all([store.recordPoll({ record, now }), store.recordPoll({ record, now })]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
