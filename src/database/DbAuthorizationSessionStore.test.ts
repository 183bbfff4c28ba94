import { createTestDatabases } from '../testUtils/databases';
import { anAuthorizationRequest } from '../testUtils/authorizationRequests';
import { DbAuthorizationCodeStore } from './DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from './DbAuthorizationSessionStore';
import { applyDatabaseMigrations } from './migrations';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('decided authorization requests on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return {
      knex,
      sessions: DbAuthorizationSessionStore.create({ knex }),
      codes: DbAuthorizationCodeStore.create({ knex }),
    };
  }

  it('records a rejection exactly as the request asked, once', async () => {
    const { sessions } = await setup();
    // Values a driver has to quote: commas, quotes, braces, backslashes, NULL, non-ASCII.
    const awkward = ['a,b', 'say "hi"', '{x}', 'back\\slash', 'NULL', 'ünïcødé ✓', ''];
    for (const [i, state] of awkward.entries()) {
      const request = anAuthorizationRequest({ id: `s${i}`, state, ...(i % 2 ? {} : { nonce: `n${i}` }) });
      expect(await sessions.isDecided(request.id)).toBe(false);
      expect(await sessions.reject(request, 'user:default/ann')).toBe(true);
      expect(await sessions.isDecided(request.id)).toBe(true);
      expect(await sessions.get(request.id)).toEqual({
        id: request.id,
        clientId: 'web-app',
        redirectUri: request.redirectUri,
        scopes: ['openid', 'offline_access'],
        responseType: 'code',
        status: 'rejected',
        userEntityRef: 'user:default/ann',
        state,
        ...(request.nonce ? { nonce: request.nonce } : {}),
        codeChallenge: request.codeChallenge,
        codeChallengeMethod: 'S256',
        expiresAt: request.expiresAt,
      });
      // A second decision changes nothing.
      expect(await sessions.reject(request, 'user:default/bob')).toBe(false);
      expect((await sessions.get(request.id))?.userEntityRef).toBe('user:default/ann');
    }
  });

  it('lets exactly one of many racing decisions through, bound to its user', async () => {
    const { sessions, codes } = await setup();
    const request = anAuthorizationRequest();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2
          ? sessions.reject(request, `user:default/u${i}`)
          : codes.createApproved({
              request,
              userEntityRef: `user:default/u${i}`,
              codeHash: `h${i}`,
              codeExpiresAt: request.expiresAt,
              now: new Date(),
              grantExpiresAt: request.expiresAt,
            }),
      ),
    );
    const winners = outcomes.map((o, i) => (o ? i : -1)).filter(i => i >= 0);
    expect(winners).toHaveLength(1);
    const session = await sessions.get(request.id);
    expect(session).toMatchObject({
      userEntityRef: `user:default/u${winners[0]}`,
      status: winners[0] % 2 ? 'rejected' : 'approved',
    });
  });

  it('refuses a decision that cannot be stored, and stores nothing of it', async () => {
    const { sessions } = await setup();
    // user_entity_ref is varchar(255) on PostgreSQL and MySQL; SQLite keeps any length, so it is not asked.
    if (databaseId.startsWith('SQLITE')) return;
    await expect(sessions.reject(anAuthorizationRequest(), `user:default/${'x'.repeat(300)}`)).rejects.toThrow();
    expect(await sessions.isDecided('session-1')).toBe(false);
  });
});
