import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations } from './migrations';
import { DbRefreshTokenStore } from './DbRefreshTokenStore';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('DbRefreshTokenStore on %p', databaseId => {
  const now = new Date('2026-11-23T12:00:00Z');
  const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  const record = (tokenHash: string, familyId: string, user = 'user:default/a', at = now) => ({
    tokenHash,
    familyId,
    clientId: 'client-1',
    userEntityRef: user,
    scopes: ['openid', 'offline_access'],
    authTime: now,
    createdAt: at,
    expiresAt: new Date(at.getTime() + 3600_000),
    familyExpiresAt: later(86400),
  });

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, store: DbRefreshTokenStore.create({ knex }) };
  }

  it('rotates a token once when two requests race', async () => {
    const { store } = await setup();
    await store.issue(record('t1', 'f1'), { maxActivePerUser: 5 });
    const results = await Promise.all([
      store.rotate('t1', record('t2a', 'f1', undefined, later(10)), later(10)),
      store.rotate('t1', record('t2b', 'f1', undefined, later(10)), later(10)),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await store.find('t1'))?.status).toBe('rotated');
    const winner = results[0] ? 't2a' : 't2b';
    expect(await store.find(winner)).toMatchObject({ status: 'active', familyId: 'f1', scopes: ['openid', 'offline_access'] });
    expect(await store.find(results[0] ? 't2b' : 't2a')).toBeUndefined();
  });

  it('does not rotate idle-expired or revoked tokens', async () => {
    const { store } = await setup();
    await store.issue(record('t1', 'f1'), { maxActivePerUser: 5 });
    expect(await store.rotate('t1', record('t2', 'f1'), later(3601))).toBe(false);
    expect(await store.revokeFamily('f1')).toBe(1);
    expect(await store.rotate('t1', record('t3', 'f1'), later(1))).toBe(false);
    expect((await store.find('t1'))?.status).toBe('revoked');
  });

  it('revokes the whole family', async () => {
    const { store } = await setup();
    await store.issue(record('t1', 'f1'), { maxActivePerUser: 5 });
    await store.rotate('t1', record('t2', 'f1'), now);
    await store.issue(record('o1', 'other'), { maxActivePerUser: 5 });
    expect(await store.revokeFamily('f1')).toBe(1);
    expect((await store.find('t1'))?.status).toBe('rotated');
    expect((await store.find('t2'))?.status).toBe('revoked');
    expect((await store.find('o1'))?.status).toBe('active');
  });

  it("revokes a user's oldest families beyond the cap", async () => {
    const { store } = await setup();
    await store.issue(record('a', 'fa', undefined, now), { maxActivePerUser: 2 });
    await store.issue(record('b', 'fb', undefined, later(1)), { maxActivePerUser: 2 });
    await store.issue(record('x', 'fx', 'user:default/other', later(1)), { maxActivePerUser: 2 });
    await store.issue(record('c', 'fc', undefined, later(2)), { maxActivePerUser: 2 });
    expect((await store.find('a'))?.status).toBe('revoked');
    expect((await store.find('b'))?.status).toBe('active');
    expect((await store.find('c'))?.status).toBe('active');
    expect((await store.find('x'))?.status).toBe('active');
  });

  it("revokes every active token of a user in one go, whatever the case of the stored ref", async () => {
    const { store } = await setup();
    await store.issue(record('a1', 'fa'), { maxActivePerUser: 5 });
    await store.rotate('a1', record('a2', 'fa'), now);
    await store.issue(record('b1', 'fb', 'User:Default/A'), { maxActivePerUser: 5 });
    await store.issue(record('x1', 'fx', 'user:default/other'), { maxActivePerUser: 5 });
    expect(await store.revokeAllForUser('user:default/a')).toBe(2);
    expect((await store.find('a1'))?.status).toBe('rotated');
    expect((await store.find('a2'))?.status).toBe('revoked');
    expect((await store.find('b1'))?.status).toBe('revoked');
    expect((await store.find('x1'))?.status).toBe('active');
    expect(await store.revokeAllForUser('user:default/a')).toBe(0);
  });
});
