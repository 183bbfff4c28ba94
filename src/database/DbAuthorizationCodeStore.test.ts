import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations } from './migrations';
import { DbAuthorizationCodeStore } from './DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from './DbAuthorizationSessionStore';
import { DbUserInfoStore } from './DbUserInfoStore';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('authorization sessions and codes on %p', databaseId => {
  const now = new Date('2026-11-23T12:00:00Z');
  const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    const sessions = DbAuthorizationSessionStore.create({ knex });
    const codes = DbAuthorizationCodeStore.create({ knex });
    await sessions.create({
      id: 'session-1',
      // Not in oidc_clients: static and CIMD clients must work too.
      clientId: 'https://tool.example/client.json',
      redirectUri: 'http://127.0.0.1:1234/cb',
      scopes: ['openid', 'offline_access'],
      state: 's'.repeat(2000),
      nonce: 'n-1',
      codeChallenge: 'c'.repeat(43),
      codeChallengeMethod: 'S256',
      responseType: 'code',
      expiresAt: later(600),
    });
    return { knex, sessions, codes };
  }

  it('allows one decision per session, bound to the deciding user', async () => {
    const { sessions } = await setup();
    const decide = (status: 'approved' | 'rejected', user: string) =>
      sessions.decide('session-1', { status, userEntityRef: user, now });
    const results = await Promise.all([decide('approved', 'user:default/a'), decide('rejected', 'user:default/b')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    // The winner gets the session as decided.
    expect(results.find(Boolean)).toMatchObject({
      id: 'session-1',
      status: results[0] ? 'approved' : 'rejected',
      userEntityRef: results[0] ? 'user:default/a' : 'user:default/b',
      nonce: 'n-1',
    });
    const session = await sessions.get('session-1');
    expect(session?.state).toHaveLength(2000);
    expect(session?.userEntityRef).toBe(results[0] ? 'user:default/a' : 'user:default/b');
    expect(await sessions.decide('session-1', { status: 'approved', userEntityRef: 'x', now })).toBeUndefined();
  });

  it('refuses decisions on expired sessions', async () => {
    const { sessions } = await setup();
    expect(
      await sessions.decide('session-1', { status: 'approved', userEntityRef: 'u', now: later(601) }),
    ).toBeUndefined();
    expect((await sessions.get('session-1'))?.status).toBe('pending');
  });

  it("counts a client's undecided sessions, no further than asked", async () => {
    const { sessions } = await setup();
    const clientId = 'https://tool.example/client.json';
    for (let i = 2; i <= 5; i++) {
      await sessions.create({
        id: `session-${i}`,
        clientId,
        redirectUri: 'http://127.0.0.1:1234/cb',
        scopes: ['openid'],
        responseType: 'code',
        expiresAt: later(i === 5 ? 1 : 600),
      });
    }
    await sessions.create({
      id: 'other-client',
      clientId: 'other',
      redirectUri: 'http://127.0.0.1:1234/cb',
      scopes: ['openid'],
      responseType: 'code',
      expiresAt: later(600),
    });
    await sessions.decide('session-2', { status: 'approved', userEntityRef: 'user:default/a', now });
    // session-1, 3 and 4 wait; 2 was decided, 5 has expired by then.
    expect(await sessions.countPending(clientId, later(2), 100)).toBe(3);
    expect(await sessions.countPending(clientId, later(2), 2)).toBe(2);
    expect(await sessions.countPending('other', later(2), 100)).toBe(1);
  });

  it('redeems a code once when twenty requests race, then reports replay', async () => {
    const { sessions, codes } = await setup();
    await sessions.decide('session-1', { status: 'approved', userEntityRef: 'user:default/a', now });
    await codes.create({ codeHash: 'hash-1', sessionId: 'session-1', expiresAt: later(60) });
    const results = await Promise.all(Array.from({ length: 20 }, () => codes.redeem('hash-1', now)));
    const redeemed = results.filter(r => r.kind === 'redeemed');
    expect(redeemed).toHaveLength(1);
    expect(results.filter(r => r.kind === 'replayed')).toHaveLength(19);
    expect(redeemed[0]).toMatchObject({
      code: {
        session: { userEntityRef: 'user:default/a', nonce: 'n-1', scopes: ['openid', 'offline_access'] },
        savedClaims: null,
      },
    });
    expect(await codes.redeem('hash-1', now)).toEqual({
      kind: 'replayed',
      sessionId: 'session-1',
      clientId: 'https://tool.example/client.json',
      userEntityRef: 'user:default/a',
    });
  });

  it("reads the approving user's saved claims with the code, and no one else's", async () => {
    const { knex, sessions, codes } = await setup();
    const userInfo = DbUserInfoStore.create({ knex });
    const claims = { sub: 'user:default/a', ent: ['user:default/a', 'group:default/team'], custom: 1 };
    await userInfo.saveUserInfo(claims);
    await userInfo.saveUserInfo({ sub: 'user:default/b', ent: ['group:default/admins'] });
    await sessions.decide('session-1', { status: 'approved', userEntityRef: 'user:default/a', now });
    await codes.create({ codeHash: 'hash-3', sessionId: 'session-1', expiresAt: later(60) });
    const result = await codes.redeem('hash-3', now);
    expect(result).toMatchObject({ kind: 'redeemed', code: { savedClaims: claims } });
  });

  it('tells expired and unknown codes apart without consuming them', async () => {
    const { sessions, codes } = await setup();
    await sessions.decide('session-1', { status: 'approved', userEntityRef: 'u', now });
    await codes.create({ codeHash: 'hash-2', sessionId: 'session-1', expiresAt: later(60) });
    expect(await codes.redeem('hash-2', later(61))).toEqual({ kind: 'expired' });
    expect(await codes.redeem('nope', now)).toEqual({ kind: 'unknown' });
    expect((await codes.redeem('hash-2', now)).kind).toBe('redeemed');
  });
});
