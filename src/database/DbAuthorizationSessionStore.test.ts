import type { Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import type { AuthorizationSession } from '../oauth/stores';
import { DbAuthorizationSessionStore } from './DbAuthorizationSessionStore';
import { applyDatabaseMigrations } from './migrations';

jest.setTimeout(60_000);
const databases = createTestDatabases();

// Whole seconds: upstream's column keeps no fraction.
const expiresAt = new Date('2030-01-02T03:04:05Z');
const session = (
  id: string,
  extra: Partial<AuthorizationSession> = {},
): Omit<AuthorizationSession, 'status' | 'userEntityRef'> => ({
  id,
  clientId: 'cli',
  redirectUri: 'http://127.0.0.1:8000/cb',
  scopes: ['openid', 'offline_access'],
  responseType: 'code',
  codeChallenge: 'challenge',
  codeChallengeMethod: 'S256',
  expiresAt,
  ...extra,
});

/** The sessions-table INSERTs `knex` sends while `run` runs. */
async function insertsDuring(knex: Knex, run: () => Promise<unknown>): Promise<number> {
  let inserts = 0;
  const listener = (query: { sql: string }) => {
    if (/^\s*insert into oauth_authorization_sessions/i.test(query.sql)) inserts++;
  };
  knex.on('query', listener);
  try {
    await run();
  } finally {
    knex.off('query', listener);
  }
  return inserts;
}

describe.each(databases.eachSupportedId())('authorization sessions on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, store: DbAuthorizationSessionStore.create({ knex }) };
  }

  it('stores sessions started together exactly as asked, in fewer statements than sessions on PostgreSQL', async () => {
    const { knex, store } = await setup();
    // Values an array literal has to quote: commas, quotes, braces, backslashes, NULL, non-ASCII.
    const awkward = ['a,b', 'say "hi"', '{x}', 'back\\slash', 'NULL', 'ünïcødé ✓', ''];
    const sessions = awkward.map((state, i) =>
      session(`s${i}`, { state, nonce: i % 2 ? undefined : `n${i}`, codeChallenge: i === 3 ? undefined : 'challenge' }),
    );
    const inserts = await insertsDuring(knex, () => Promise.all(sessions.map(s => store.create(s))));
    // PostgreSQL writes sessions asked for during a write together.
    expect(inserts < sessions.length).toBe(databaseId.startsWith('POSTGRES'));

    for (const s of sessions) {
      expect(await store.get(s.id)).toEqual({
        id: s.id,
        clientId: 'cli',
        redirectUri: s.redirectUri,
        scopes: ['openid', 'offline_access'],
        responseType: 'code',
        status: 'pending',
        state: s.state,
        ...(s.nonce ? { nonce: s.nonce } : {}),
        ...(s.codeChallenge ? { codeChallenge: 'challenge' } : {}),
        codeChallengeMethod: 'S256',
        expiresAt,
      });
    }
    expect(await store.countPending('cli', new Date('2029-01-01T00:00:00Z'), 100)).toBe(sessions.length);
  });

  it('fails only the session that cannot be stored when others are stored with it', async () => {
    const { store } = await setup();
    // client_id is varchar(255) on PostgreSQL and MySQL; on SQLite a duplicate id fails instead.
    const ok = ['ok1', 'ok2', 'ok3'].map(id => session(id));
    const bad = databaseId.startsWith('SQLITE') ? session('ok1') : session('bad', { clientId: 'c'.repeat(300) });
    const outcomes = await Promise.allSettled([store.create(ok[0]), store.create(ok[1]), store.create(bad), store.create(ok[2])]);
    expect(outcomes.map(o => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    for (const s of ok) expect((await store.get(s.id))?.status).toBe('pending');
    expect(await store.get('bad')).toBeUndefined();
  });
});
