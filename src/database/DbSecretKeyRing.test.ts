import { mockServices } from '@backstage/backend-test-utils';
import knexFactory from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { DbSecretKeyRing } from './DbSecretKeyRing';
import { applyDatabaseMigrations } from './migrations';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('DbSecretKeyRing on %p', databaseId => {
  it('keeps serving the keys in hand while the database cannot be read, and says so once', async () => {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    let now = new Date('2026-12-07T12:00:00Z');
    const logger = mockServices.logger.mock();
    const ring = DbSecretKeyRing.create({ knex, clock: () => now, logger });
    const [key] = await ring.secretKeys();
    expect(key.secret).toHaveLength(32);

    // The table goes away (as the database would): past the cache, reads fail.
    await knex.schema.renameTable('oidc_device_code_keys', 'keys_away');
    now = new Date(now.getTime() + 61_000);
    expect(await ring.secretKeys()).toEqual([key]);
    expect(await ring.secretKeys({ fresh: true })).toEqual([key]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(String(logger.warn.mock.calls[0][0])).toMatch(/^Could not re-read the shared secret keys; using those in hand/);

    // Back again: the next read after the pause finds it.
    await knex.schema.renameTable('keys_away', 'oidc_device_code_keys');
    now = new Date(now.getTime() + 6_000);
    expect(await ring.secretKeys()).toEqual([key]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });
});

describe('DbSecretKeyRing without a database', () => {
  it('fails when it has no keys in hand and cannot read them', async () => {
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    await knex.destroy();
    await expect(DbSecretKeyRing.create({ knex }).secretKeys()).rejects.toThrow();
  });
});
