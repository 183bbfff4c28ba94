import { TestDatabases } from '@backstage/backend-test-utils';
import { anAuthorizationRequest } from '../testUtils/authorizationRequests';
import { applyDatabaseMigrations } from './migrations';
import { DbAuthorizationCodeStore } from './DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from './DbAuthorizationSessionStore';
import { DbClientStore } from './DbClientStore';
import { DbDeviceCodeStore } from './DbDeviceCodeStore';
import { DbRefreshTokenStore } from './DbRefreshTokenStore';
import { DbUserInfoStore } from './DbUserInfoStore';

// SQLite is where a bound LIMIT costs (see literalLimit.ts); the text is the same elsewhere.
const databases = TestDatabases.create({ ids: ['SQLITE_3'], disableDocker: true });

describe('single-row reads', () => {
  it('write LIMIT 1 into the SQL rather than binding it, and still find their row', async () => {
    const knex = await databases.init('SQLITE_3');
    await applyDatabaseMigrations(knex);
    const now = new Date();
    const later = new Date(now.getTime() + 600_000);
    const sessions = DbAuthorizationSessionStore.create({ knex });
    const codes = DbAuthorizationCodeStore.create({ knex });
    await codes.createApproved({
      request: anAuthorizationRequest({ clientId: 'client-1', expiresAt: later }),
      userEntityRef: 'user:default/ann',
      codeHash: 'code-hash-1',
      codeExpiresAt: later,
      now,
      grantExpiresAt: later,
    });
    const userInfo = DbUserInfoStore.create({ knex });
    await userInfo.saveUserInfo({ sub: 'user:default/ann', ent: ['user:default/ann'] });
    const deviceCodes = DbDeviceCodeStore.create({ knex, clock: () => now });
    await deviceCodes.create({
      deviceCodeHash: 'dch-1',
      userCodeHash: 'uch-1',
      userCodeKeyVersion: 'v1',
      clientId: 'client-1',
      scopes: ['openid'],
      intervalSeconds: 5,
      requestIp: '127.0.0.1',
      requestUserAgent: 'curl/8',
      createdAt: now,
      expiresAt: later,
    });

    const statements: string[] = [];
    knex.on('query', (query: { sql: string }) => statements.push(query.sql));
    const found = [
      await sessions.get('session-1'),
      (await codes.redeem('code-hash-1', now)).kind === 'redeemed',
      await userInfo.getUserInfo('user:default/ann'),
      await deviceCodes.findByDeviceCodeHash('dch-1'),
      await deviceCodes.findByUserCodeHashes(['uch-1']),
    ];
    // Reads that find nothing go through the same queries.
    await DbClientStore.create({ knex }).get('client-1');
    await DbRefreshTokenStore.create({ knex }).find('no-such-token');
    knex.removeAllListeners('query');

    expect(found.every(Boolean)).toBe(true);
    const reads = statements.filter(sql => /^select/i.test(sql));
    expect(reads).toHaveLength(7);
    for (const sql of reads) expect(sql).toMatch(/ limit 1$/i);
  });
});
