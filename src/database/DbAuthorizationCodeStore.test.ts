import { createTestDatabases } from '../testUtils/databases';
import { anAuthorizationRequest } from '../testUtils/authorizationRequests';
import { applyDatabaseMigrations } from './migrations';
import { DbAuthorizationCodeStore } from './DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from './DbAuthorizationSessionStore';
import { DbUserInfoStore } from './DbUserInfoStore';
import { DbUserSignInStore } from './DbUserSignInStore';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('approvals and codes on %p', databaseId => {
  const now = new Date('2026-11-23T12:00:00Z');
  const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  const request = anAuthorizationRequest({
    // Not in oidc_clients: static and CIMD clients must work too.
    clientId: 'https://tool.example/client.json',
    state: 's'.repeat(2000),
    nonce: 'n-1',
    expiresAt: later(600),
  });

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    const sessions = DbAuthorizationSessionStore.create({ knex });
    const codes = DbAuthorizationCodeStore.create({ knex });
    const approve = (codeHash: string, userEntityRef = 'user:default/a', overrides = {}) =>
      codes.createApproved({
        request: { ...request, ...overrides },
        userEntityRef,
        codeHash,
        codeExpiresAt: later(60),
        now,
        grantExpiresAt: later(3660),
      });
    return { knex, sessions, codes, approve };
  }

  it('approves a request once, with its code, resource and the approving sign-in', async () => {
    const { knex, sessions, codes, approve } = await setup();
    await DbUserSignInStore.create({ knex }).save({
      userEntityRef: 'user:default/a',
      providerId: 'oidc',
      authTime: later(-30),
      acr: 'urn:loa:2',
      amr: ['otp'],
    });
    const requirements = { requestedAt: later(-1), promptLogin: true, maxAgeSeconds: 60, acrValues: ['urn:loa:2'] };
    expect(await approve('hash-1', 'user:default/a', { resource: 'https://mcp.example.com/mcp', requirements })).toEqual({
      signIn: { authTime: later(-30), acr: 'urn:loa:2', amr: ['otp'] },
    });
    expect(await approve('hash-2', 'user:default/b')).toBeUndefined();
    expect(await knex('oidc_authorization_codes').where({ code: 'hash-2' })).toEqual([]);

    const session = await sessions.get(request.id);
    expect(session).toMatchObject({ status: 'approved', userEntityRef: 'user:default/a', resource: 'https://mcp.example.com/mcp' });
    expect(session?.state).toHaveLength(2000);
    const row = await knex('oidc_authorization_authentication').where({ session_id: request.id }).first();
    expect(Boolean(row.prompt_login)).toBe(true);
    expect(row.max_age).toBe(60);
    expect(row.acr_values).toBe('urn:loa:2');
    const redeemed = await codes.redeem('hash-1', now);
    expect(redeemed).toMatchObject({
      kind: 'redeemed',
      code: { authentication: { authTime: later(-30), acr: 'urn:loa:2', amr: ['otp'] }, session: { resource: 'https://mcp.example.com/mcp' } },
    });
  });

  it('approves a request that asked nothing, of a user with no sign-in recorded', async () => {
    const { codes, approve } = await setup();
    expect(await approve('hash-0')).toEqual({});
    const redeemed = await codes.redeem('hash-0', now);
    expect(redeemed.kind === 'redeemed' && redeemed.code.authentication).toBeUndefined();
  });

  it('withdraws an approval before its code leaves: the code is gone, the request rejected', async () => {
    const { sessions, codes, approve } = await setup();
    await approve('hash-w');
    await codes.withdraw(request.id);
    expect(await codes.redeem('hash-w', now)).toEqual({ kind: 'unknown' });
    expect((await sessions.get(request.id))?.status).toBe('rejected');
  });

  it('redeems a code once when twenty requests race, then reports replay', async () => {
    const { codes, approve } = await setup();
    await approve('hash-1');
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
      sessionId: request.id,
      clientId: 'https://tool.example/client.json',
      userEntityRef: 'user:default/a',
    });
  });

  it("reads the approving user's saved claims with the code, and no one else's", async () => {
    const { knex, codes, approve } = await setup();
    const userInfo = DbUserInfoStore.create({ knex });
    const claims = { sub: 'user:default/a', ent: ['user:default/a', 'group:default/team'], custom: 1 };
    await userInfo.saveUserInfo(claims);
    await userInfo.saveUserInfo({ sub: 'user:default/b', ent: ['group:default/admins'] });
    await approve('hash-3');
    const result = await codes.redeem('hash-3', now);
    expect(result).toMatchObject({ kind: 'redeemed', code: { savedClaims: claims } });
  });

  it('tells expired and unknown codes apart without consuming them', async () => {
    const { codes, approve } = await setup();
    await approve('hash-2');
    expect(await codes.redeem('hash-2', later(61))).toEqual({ kind: 'expired' });
    expect(await codes.redeem('nope', now)).toEqual({ kind: 'unknown' });
    expect((await codes.redeem('hash-2', now)).kind).toBe('redeemed');
  });
});
