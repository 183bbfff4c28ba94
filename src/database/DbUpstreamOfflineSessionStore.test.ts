import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations } from './migrations';
import { DbUpstreamOfflineSessionStore } from './DbUpstreamOfflineSessionStore';
import { createUpstreamOfflineSessionsTable } from './testUtils/createUpstreamOfflineSessionsTable';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('DbUpstreamOfflineSessionStore on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, store: DbUpstreamOfflineSessionStore.create({ knex }) };
  }

  it('deletes nothing, and does not fail, when the table does not exist', async () => {
    const { knex, store } = await setup();
    expect(await store.deleteForUser('user:default/jane')).toBe(0);
    expect(await knex.schema.hasTable('offline_sessions')).toBe(false);
  });

  it("deletes the user's rows, whatever the case of the stored ref, and no one else's", async () => {
    const { knex, store } = await setup();
    await createUpstreamOfflineSessionsTable(knex);
    await knex('offline_sessions').insert([
      { id: 's1', user_entity_ref: 'user:default/jane', oidc_client_id: null, token_hash: 'scrypt-1' },
      { id: 's2', user_entity_ref: 'User:default/Jane', oidc_client_id: 'c1', token_hash: 'scrypt-2' },
      { id: 's3', user_entity_ref: 'user:default/guest', oidc_client_id: null, token_hash: 'scrypt-3' },
    ]);
    expect(await store.deleteForUser('user:default/jane')).toBe(2);
    expect(await knex('offline_sessions').pluck('id')).toEqual(['s3']);
  });
});
