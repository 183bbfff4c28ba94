import type { Client } from '../oauth/model';
import { sha256 } from '../oauth/crypto/sha256';
import { createTestDatabases } from '../testUtils/databases';
import { DbClientStore } from './DbClientStore';
import { applyDatabaseMigrations } from './migrations';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('DbClientStore on %p', databaseId => {
  const client = (clientId: string, overrides: Partial<Client> = {}): Client => ({
    clientId,
    clientName: 'Tool',
    kind: 'dynamic',
    redirectUris: ['http://127.0.0.1:5000/callback'],
    grantTypes: ['authorization_code', 'refresh_token'],
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access'],
    tokenEndpointAuthMethod: 'client_secret_post',
    metadata: { client_name: 'Tool', software_id: 'x' },
    ...overrides,
  });

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, store: DbClientStore.create({ knex }) };
  }

  it('round-trips a client with its secret hash', async () => {
    const { store } = await setup();
    const stored = { client: client('c1'), secretHash: sha256('secret') };
    await store.create(stored);
    expect(await store.get('c1')).toEqual(stored);
    expect(await store.get('nope')).toBeUndefined();
  });

  it('stores a public client without a secret', async () => {
    const { knex, store } = await setup();
    const pub = client('c2', { tokenEndpointAuthMethod: 'none', scopes: undefined });
    delete pub.scopes;
    await store.create({ client: pub });
    expect(await store.get('c2')).toEqual({ client: pub });
    const row = await knex('oidc_clients').where({ client_id: 'c2' }).first();
    expect(row.client_secret).toBe('');
    expect(row.scope).toBeNull();
  });

  it('deletes the copies earlier versions kept of config and metadata-document clients', async () => {
    const { knex, store } = await setup();
    await store.create({ client: client('dcr-1') });
    // What an earlier version wrote: a config client with its secret's unsalted hash.
    await store.create({ client: client('s1', { kind: 'static' }), secretHash: sha256('config-secret') });
    for (let i = 0; i < 520; i++) {
      await store.create({ client: client(`https://tools.example/${String(i).padStart(4, '0')}.json`, { kind: 'metadata-document' }) });
    }
    expect(await store.deleteMirrors()).toBe(521);
    expect(await knex('oidc_clients').pluck('client_id')).toEqual(['dcr-1']);
    expect(await store.deleteMirrors()).toBe(0);
  });

  it('hashes clear-text secrets left by upstream and reads such rows as DCR clients', async () => {
    const { knex, store } = await setup();
    await knex('oidc_clients').insert({
      client_id: 'upstream-1',
      client_secret: '7b0c6c59-5e0b-4f0e-9a61-3d7f1f3a9c10',
      client_name: 'Upstream client',
      response_types: JSON.stringify(['code']),
      grant_types: JSON.stringify(['authorization_code']),
      redirect_uris: JSON.stringify(['https://app.example.com/cb']),
      scope: null,
      metadata: null,
    });
    expect(await store.hashLegacySecrets()).toBe(1);
    expect(await store.hashLegacySecrets()).toBe(0);
    const stored = await store.get('upstream-1');
    expect(stored?.secretHash).toBe(sha256('7b0c6c59-5e0b-4f0e-9a61-3d7f1f3a9c10'));
    expect(stored?.client).toMatchObject({
      kind: 'dynamic',
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: ['https://app.example.com/cb'],
    });
  });
});
