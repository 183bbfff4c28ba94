import { ConfigReader } from '@backstage/config';
import { mockServices } from '@backstage/backend-test-utils';
import { readOidcProviderConfig } from '../../config/readOidcProviderConfig';
import { DbClientStore } from '../../database/DbClientStore';
import { applyDatabaseMigrations } from '../../database/migrations';
import { createTestDatabases } from '../../testUtils/databases';
import { sha256 } from '../crypto/sha256';
import type { Client } from '../model';
import { createClientResolver, DYNAMIC_CLIENT_CACHE_SECONDS } from './createClientResolver';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('createClientResolver on %p', databaseId => {
  const dynamicClient = (clientId: string): Client => ({
    clientId,
    clientName: 'Tool',
    kind: 'dynamic',
    redirectUris: ['http://127.0.0.1:5000/callback'],
    grantTypes: ['authorization_code'],
    responseTypes: ['code'],
    tokenEndpointAuthMethod: 'client_secret_post',
    metadata: { client_name: 'Tool' },
  });

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    const store = DbClientStore.create({ knex });
    let now = Date.parse('2026-01-01T00:00:00Z');
    const resolver = await createClientResolver({
      config: readOidcProviderConfig(new ConfigReader({})),
      store,
      issuer: 'http://localhost:7007/api/auth',
      logger: mockServices.logger.mock(),
      clock: () => new Date(now),
    });
    return { knex, store, resolver, advance: (seconds: number) => (now += seconds * 1000) };
  }

  it('finds a client registered after a failed lookup (misses are not cached)', async () => {
    const { store, resolver } = await setup();
    expect(await resolver.findClient('late')).toBeUndefined();
    await store.create({ client: dynamicClient('late'), secretHash: sha256('s3cret') });
    expect((await resolver.findClient('late'))?.clientId).toBe('late');
  });

  it('reuses a found DCR client only for a short while, then reads the database again', async () => {
    const { knex, store, resolver, advance } = await setup();
    await store.create({ client: dynamicClient('c1'), secretHash: sha256('s3cret') });
    const client = await resolver.findClient('c1');
    expect(client?.clientId).toBe('c1');

    // Cleanup deletes unused clients; a cached one lives on until the TTL ends.
    await knex('oidc_clients').where({ client_id: 'c1' }).delete();
    advance(DYNAMIC_CLIENT_CACHE_SECONDS - 1);
    expect((await resolver.findClient('c1'))?.clientId).toBe('c1');
    expect(await resolver.verifySecret(client!, 's3cret')).toBe(true);
    expect(await resolver.verifySecret(client!, 'wrong')).toBe(false);

    advance(2);
    expect(await resolver.findClient('c1')).toBeUndefined();
    expect(await resolver.verifySecret(client!, 's3cret')).toBe(false);
  });
});
