import { anAuthorizationRequest } from '../testUtils/authorizationRequests';
import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations } from './migrations';
import { DbAuthorizationCodeStore } from './DbAuthorizationCodeStore';
import { DbCleanupStore } from './DbCleanupStore';
import { DbRefreshTokenStore } from './DbRefreshTokenStore';
import { DbUserSignInStore } from './DbUserSignInStore';

jest.setTimeout(60_000);
const databases = createTestDatabases();

/** Issue 14's stores: users' last sign-ins, and what each authorization asked and got. */
describe.each(databases.eachSupportedId())('authentication context stores on %p', databaseId => {
  const now = new Date('2026-12-10T12:00:00Z');
  const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  const USER = 'user:default/jane';

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return {
      knex,
      signIns: DbUserSignInStore.create({ knex }),
      codes: DbAuthorizationCodeStore.create({ knex }),
    };
  }

  it('keeps each user’s last sign-in, replacing the one before', async () => {
    const { signIns } = await setup();
    expect(await signIns.get(USER)).toBeUndefined();
    await signIns.save({ userEntityRef: USER, providerId: 'oidc', authTime: now, acr: 'urn:loa:2', amr: ['pwd', 'otp'] });
    expect(await signIns.get(USER)).toEqual({
      userEntityRef: USER,
      providerId: 'oidc',
      authTime: now,
      acr: 'urn:loa:2',
      amr: ['pwd', 'otp'],
    });
    await signIns.save({ userEntityRef: USER, providerId: 'guest', authTime: later(60) });
    expect(await signIns.get(USER)).toEqual({ userEntityRef: USER, providerId: 'guest', authTime: later(60) });
  });

  it('deletes a session’s record with the expired session', async () => {
    const { knex, codes } = await setup();
    const request = anAuthorizationRequest({
      expiresAt: later(600),
      requirements: { requestedAt: now, promptLogin: true },
    });
    await codes.createApproved({
      request,
      userEntityRef: USER,
      codeHash: 'h',
      codeExpiresAt: later(60),
      now,
      grantExpiresAt: later(3660),
    });
    expect(await knex('oidc_authorization_authentication').select()).toHaveLength(1);
    const cleanup = DbCleanupStore.create({ knex });
    expect(await cleanup.deleteExpiredAuthorizationSessions(later(700), later(700), 10)).toBe(1);
    expect(await knex('oidc_authorization_authentication').select()).toEqual([]);
  });

  it('carries acr and amr with a refresh token, and reads older rows without them', async () => {
    const { knex } = await setup();
    const tokens = DbRefreshTokenStore.create({ knex });
    const record = {
      familyId: 'session-1',
      clientId: 'web-app',
      userEntityRef: USER,
      scopes: ['openid', 'offline_access'],
      authTime: later(-30),
      createdAt: now,
      expiresAt: later(600),
      familyExpiresAt: later(6000),
    };
    await tokens.issue({ ...record, tokenHash: 'rt-1', acr: 'urn:loa:2', amr: ['pwd', 'otp'] }, { maxActivePerUser: 5, grantExpiresAt: later(90000) });
    expect(await tokens.find('rt-1')).toMatchObject({ authTime: later(-30), acr: 'urn:loa:2', amr: ['pwd', 'otp'] });
    await tokens.issue({ ...record, tokenHash: 'rt-2', familyId: 'f-2' }, { maxActivePerUser: 5, grantExpiresAt: later(90000) });
    const plain = await tokens.find('rt-2');
    expect(plain).not.toHaveProperty('acr');
    expect(plain).not.toHaveProperty('amr');
  });
});
