import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations } from './migrations';
import { DbRefreshTokenStore } from './DbRefreshTokenStore';

jest.setTimeout(120_000);
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
  const options = (maxActivePerUser = 5) => ({ maxActivePerUser, grantExpiresAt: later(90000) });
  const at = (when: Date) => ({ now: when, grantExpiresAt: later(90000) });
  const revocation = (id: string, user = 'user:default/a') => ({
    id,
    clientId: 'client-1',
    userEntityRef: user,
    now,
    keepUntil: later(3660),
  });

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, store: DbRefreshTokenStore.create({ knex }) };
  }

  it('rotates a token once when two requests race', async () => {
    const { store } = await setup();
    expect(await store.issue(record('t1', 'f1'), options())).toBe(true);
    const results = await Promise.all([
      store.rotate('t1', record('t2a', 'f1', undefined, later(10)), at(later(10))),
      store.rotate('t1', record('t2b', 'f1', undefined, later(10)), at(later(10))),
    ]);
    expect([...results].sort()).toEqual(['rotated', 'stale']);
    expect((await store.find('t1'))?.status).toBe('rotated');
    const winner = results[0] === 'rotated' ? 't2a' : 't2b';
    expect(await store.find(winner)).toMatchObject({ status: 'active', familyId: 'f1', scopes: ['openid', 'offline_access'] });
    expect(await store.find(winner === 't2a' ? 't2b' : 't2a')).toBeUndefined();
  });

  it('does not rotate idle-expired tokens, nor those of a revoked grant', async () => {
    const { store } = await setup();
    await store.issue(record('t1', 'f1'), options());
    expect(await store.rotate('t1', record('t2', 'f1'), at(later(3601)))).toBe('stale');
    expect(await store.revokeGrant(revocation('f1'))).toBe(1);
    expect(await store.rotate('t1', record('t3', 'f1'), at(later(1)))).toBe('revoked');
    expect((await store.find('t1'))?.status).toBe('revoked');
    expect(await store.find('t3')).toBeUndefined();
  });

  it('revokes the whole family and remembers it', async () => {
    const { store } = await setup();
    await store.issue(record('t1', 'f1'), options());
    await store.rotate('t1', record('t2', 'f1'), at(now));
    await store.issue(record('o1', 'other'), options());
    expect(await store.isGrantRevoked('f1')).toBe(false);
    expect(await store.revokeGrant(revocation('f1'))).toBe(1);
    expect(await store.isGrantRevoked('f1')).toBe(true);
    expect((await store.find('t1'))?.status).toBe('rotated');
    expect((await store.find('t2'))?.status).toBe('revoked');
    expect((await store.find('o1'))?.status).toBe('active');
    expect(await store.isGrantRevoked('other')).toBe(false);
  });

  it('records the revocation of a grant that has no family yet, so the family never starts', async () => {
    const { knex, store } = await setup();
    expect(await store.revokeGrant(revocation('session-1'))).toBe(0);
    expect(await store.isGrantRevoked('session-1')).toBe(true);
    expect(await store.issue(record('t1', 'session-1'), options())).toBe(false);
    expect(await store.find('t1')).toBeUndefined();
    // Kept as long as asked, then longer when asked again, never shorter.
    const keptUntil = async () =>
      new Date((await knex('oidc_grants').where({ id: 'session-1' }).first()).expires_at).getTime();
    expect(await keptUntil()).toBe(later(3660).getTime());
    await store.revokeGrant({ ...revocation('session-1'), keepUntil: later(7200) });
    expect(await keptUntil()).toBe(later(7200).getTime());
    await store.revokeGrant(revocation('session-1'));
    expect(await keptUntil()).toBe(later(7200).getTime());
  });

  it('never lets a rotation outlive a revocation of its grant that races it (issue 25 item 3)', async () => {
    const { store } = await setup();
    const rounds = 100;
    const survivors: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const family = `race-${round}`;
      await store.issue(record(`${family}-0`, family), options(1000));
      await Promise.all([
        store.rotate(`${family}-0`, record(`${family}-1`, family), at(now)),
        store.revokeGrant(revocation(family)),
      ]);
      const successor = await store.find(`${family}-1`);
      if (successor?.status === 'active') survivors.push(round);
    }
    expect(survivors).toEqual([]);
  });

  it('records the grant of a family an older version started, and rotates it', async () => {
    const { knex, store } = await setup();
    await store.issue(record('t1', 'f1'), options());
    // As an instance of the version before grants left it.
    await knex('oidc_grants').where({ id: 'f1' }).delete();
    expect(await store.rotate('t1', record('t2', 'f1'), at(later(1)))).toBe('rotated');
    expect(await knex('oidc_grants').where({ id: 'f1' }).whereNull('revoked_at')).toHaveLength(1);
    expect(await store.revokeGrant(revocation('f1'))).toBe(1);
    expect(await store.rotate('t2', record('t3', 'f1'), at(later(2)))).toBe('revoked');
  });

  it("revokes a user's oldest families beyond the cap, with their grants", async () => {
    const { store } = await setup();
    await store.issue(record('a', 'fa', undefined, now), options(2));
    await store.issue(record('b', 'fb', undefined, later(1)), options(2));
    await store.issue(record('x', 'fx', 'user:default/other', later(1)), options(2));
    await store.issue(record('c', 'fc', undefined, later(2)), options(2));
    expect((await store.find('a'))?.status).toBe('revoked');
    expect(await store.isGrantRevoked('fa')).toBe(true);
    expect((await store.find('b'))?.status).toBe('active');
    expect((await store.find('c'))?.status).toBe('active');
    expect((await store.find('x'))?.status).toBe('active');
  });

  it("revokes every grant and active token of a user in one go, whatever the case of the stored ref", async () => {
    const { store } = await setup();
    await store.issue(record('a1', 'fa'), options());
    await store.rotate('a1', record('a2', 'fa'), at(now));
    await store.issue(record('b1', 'fb', 'User:Default/A'), options());
    await store.issue(record('x1', 'fx', 'user:default/other'), options());
    expect(await store.revokeAllForUser('user:default/a', now)).toBe(2);
    expect((await store.find('a1'))?.status).toBe('rotated');
    expect((await store.find('a2'))?.status).toBe('revoked');
    expect((await store.find('b1'))?.status).toBe('revoked');
    expect((await store.find('x1'))?.status).toBe('active');
    expect([await store.isGrantRevoked('fa'), await store.isGrantRevoked('fb'), await store.isGrantRevoked('fx')]).toEqual([
      true,
      true,
      false,
    ]);
    expect(await store.revokeAllForUser('user:default/a', now)).toBe(0);
  });
});
