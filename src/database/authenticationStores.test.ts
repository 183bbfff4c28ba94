import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations } from './migrations';
import { DbAuthorizationCodeStore } from './DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from './DbAuthorizationSessionStore';
import { DbCleanupStore } from './DbCleanupStore';
import { DbRefreshTokenStore } from './DbRefreshTokenStore';
import { DbSessionAuthenticationStore } from './DbSessionAuthenticationStore';
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
    const sessions = DbAuthorizationSessionStore.create({ knex });
    await sessions.create({
      id: 'session-1',
      clientId: 'web-app',
      redirectUri: 'http://127.0.0.1/cb',
      scopes: ['openid', 'offline_access'],
      codeChallenge: 'c'.repeat(43),
      codeChallengeMethod: 'S256',
      responseType: 'code',
      expiresAt: later(600),
    });
    return {
      knex,
      sessions,
      signIns: DbUserSignInStore.create({ knex }),
      authentication: DbSessionAuthenticationStore.create({ knex }),
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

  it('keeps a request’s requirements and the sign-in that approved it, which the code’s exchange reads', async () => {
    const { sessions, authentication, codes } = await setup();
    const requirements = {
      requestedAt: now,
      promptLogin: true,
      maxAgeSeconds: 0,
      acrValues: ['urn:loa:2', 'urn:loa:3'],
    };
    await authentication.saveRequirements('session-1', requirements);
    expect(await authentication.findRequirements('session-1')).toEqual(requirements);
    expect(await authentication.findRequirements('session-2')).toBeUndefined();

    await sessions.decide('session-1', { status: 'approved', userEntityRef: USER, now });
    const approvedBy = { authTime: later(-30), acr: 'urn:loa:2', amr: ['otp'] };
    await codes.create({ codeHash: 'hash-1', sessionId: 'session-1', expiresAt: later(60), approvedBy });
    // The requirements stay as they were.
    expect(await authentication.findRequirements('session-1')).toEqual(requirements);
    const result = await codes.redeem('hash-1', now);
    expect(result.kind === 'redeemed' && result.code.authentication).toEqual({
      authTime: later(-30),
      acr: 'urn:loa:2',
      amr: ['otp'],
    });
  });

  it('reads what a decision checks in one statement, whichever of the two rows exists', async () => {
    const { knex, signIns, authentication } = await setup();
    const statements: string[] = [];
    const count = (query: { sql: string }) => statements.push(query.sql);
    knex.on('query', count);
    expect(await authentication.findForDecision('session-1', USER)).toEqual({});
    knex.off('query', count);
    expect(statements).toHaveLength(1);

    await signIns.save({ userEntityRef: USER, providerId: 'oidc', authTime: now, acr: 'urn:loa:2', amr: ['otp'] });
    expect(await authentication.findForDecision('session-1', USER)).toEqual({
      signIn: { authTime: now, acr: 'urn:loa:2', amr: ['otp'] },
    });
    const requirements = { requestedAt: now, promptLogin: false, maxAgeSeconds: 60 };
    await authentication.saveRequirements('session-1', requirements);
    expect(await authentication.findForDecision('session-1', USER)).toEqual({
      requirements,
      signIn: { authTime: now, acr: 'urn:loa:2', amr: ['otp'] },
    });
    // Another user's sign-in, another session's requirements: neither is read.
    expect(await authentication.findForDecision('session-2', 'user:default/joe')).toEqual({});
    expect(await authentication.findForDecision('session-1', 'user:default/joe')).toEqual({ requirements });
  });

  it('records an approval of a request that asked nothing; a code without one reads none', async () => {
    const { sessions, authentication, codes } = await setup();
    await sessions.decide('session-1', { status: 'approved', userEntityRef: USER, now });
    await codes.create({ codeHash: 'hash-0', sessionId: 'session-1', expiresAt: later(60) });
    const before = await codes.redeem('hash-0', now);
    expect(before.kind === 'redeemed' && before.code.authentication).toBeUndefined();

    await codes.create({
      codeHash: 'hash-1',
      sessionId: 'session-1',
      expiresAt: later(60),
      approvedBy: { authTime: later(-5) },
    });
    expect(await authentication.findRequirements('session-1')).toBeUndefined();
    const after = await codes.redeem('hash-1', now);
    expect(after.kind === 'redeemed' && after.code.authentication).toEqual({ authTime: later(-5) });
  });

  it('deletes a session’s record with the expired session', async () => {
    const { knex, authentication } = await setup();
    await authentication.saveRequirements('session-1', { requestedAt: now, promptLogin: true });
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
    await tokens.issue({ ...record, tokenHash: 'rt-1', acr: 'urn:loa:2', amr: ['pwd', 'otp'] }, { maxActivePerUser: 5 });
    expect(await tokens.find('rt-1')).toMatchObject({ authTime: later(-30), acr: 'urn:loa:2', amr: ['pwd', 'otp'] });
    await tokens.issue({ ...record, tokenHash: 'rt-2', familyId: 'f-2' }, { maxActivePerUser: 5 });
    const plain = await tokens.find('rt-2');
    expect(plain).not.toHaveProperty('acr');
    expect(plain).not.toHaveProperty('amr');
  });
});
