import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigReader } from '@backstage/config';
import { mockServices } from '@backstage/backend-test-utils';
import { readOidcProviderConfig } from '../../config/readOidcProviderConfig';
import { DbClientStore } from '../../database/DbClientStore';
import { applyDatabaseMigrations } from '../../database/migrations';
import { createTestDatabases } from '../../testUtils/databases';
import { documentClientResolver } from '../../testUtils/documentClientResolver';
import { sha256 } from '../crypto/sha256';
import type { Client } from '../model';
import { TemporarilyUnavailable } from '../errors';
import { createOutboundGuard } from '../outbound/createOutboundGuard';
import { DEFAULT_OUTBOUND_SLOTS } from '../outbound/OutboundSlots';
import {
  CLIENT_METADATA_FAILURE_CACHE_SECONDS,
  createClientResolver,
  DYNAMIC_CLIENT_CACHE_SECONDS,
} from './createClientResolver';

const { maxInFlight, maxPerHost } = DEFAULT_OUTBOUND_SLOTS;

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
      outbound: createOutboundGuard({ allowInsecure: false, clock: () => new Date(now) }),
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

describe('createClientResolver fetching metadata documents (issue 12 item 6)', () => {
  /** Holds every request until `release()`, and counts them by path. */
  async function startSlowServer() {
    const waiting: Array<() => void> = [];
    const hits = new Map<string, number>();
    const server = http.createServer((req, res) => {
      const path = req.url ?? '';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const answer = () => {
        if (path.startsWith('/missing')) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ client_id: `http://${req.headers.host}${path}`, redirect_uris: ['http://127.0.0.1/cb'] }));
      };
      if (path.startsWith('/slow')) waiting.push(answer);
      else answer();
    });
    await new Promise<void>(resolve => server.listen(0, '0.0.0.0', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: (host: string, path: string) => `http://${host}:${port}${path}`,
      hits,
      release: () => waiting.splice(0).forEach(answer => answer()),
      close: () => new Promise<void>(resolve => server.close(() => resolve())),
    };
  }


  let server: Awaited<ReturnType<typeof startSlowServer>>;
  let now: number;
  let resolver: Awaited<ReturnType<typeof createClientResolver>>;
  beforeEach(async () => {
    server = await startSlowServer();
    now = Date.parse('2026-01-01T00:00:00Z');
    resolver = await documentClientResolver({ clock: () => new Date(now) });
  });
  afterEach(async () => {
    server.release();
    await server.close();
  });

  /** Lets the fetches started so far reach the server. */
  const settle = () => new Promise(resolve => setTimeout(resolve, 50));

  it(`fetches at most ${maxPerHost} documents of one host at once`, async () => {
    const running = Array.from({ length: maxPerHost }, (_, i) =>
      resolver.findClient(server.url('127.0.0.1', `/slow/${i}.json`)),
    );
    await expect(resolver.findClient(server.url('127.0.0.1', '/slow/more.json'))).rejects.toThrow(
      TemporarilyUnavailable,
    );
    // The same URL joins the running fetch instead.
    const joined = resolver.findClient(server.url('127.0.0.1', '/slow/0.json'));
    // Another host still has room.
    const other = resolver.findClient(server.url('127.0.0.2', '/slow/other.json'));
    await settle();
    server.release();
    expect((await Promise.all([...running, joined, other])).every(c => c?.kind === 'metadata-document')).toBe(true);
    expect(server.hits.get('/slow/0.json')).toBe(1);
    // Room again once they are done.
    expect(await resolver.findClient(server.url('127.0.0.1', '/fast.json'))).toBeDefined();
  });

  it(`fetches at most ${maxInFlight} documents at once, when as many hosts fetch one each`, async () => {
    const running = Array.from({ length: maxInFlight }, (_, host) =>
      resolver.findClient(server.url(`127.0.1.${host + 1}`, '/slow/0.json')),
    );
    await expect(resolver.findClient(server.url('127.0.2.1', '/slow/x.json'))).rejects.toThrow(TemporarilyUnavailable);
    await settle();
    server.release();
    expect((await Promise.all(running)).every(c => c?.kind === 'metadata-document')).toBe(true);
  });

  it('does not refuse a host with nothing in flight: a host fetching more gives up its oldest fetch (issue 25 item 5)', async () => {
    const hosts = maxInFlight / maxPerHost;
    const running = Array.from({ length: hosts }, (_, host) =>
      Array.from({ length: maxPerHost }, (__, i) =>
        resolver.findClient(server.url(`127.0.1.${host + 1}`, `/slow/${i}.json`)),
      ),
    );
    const cut = running[0][0];
    const joined = resolver.findClient(server.url('127.0.1.1', '/slow/0.json'));
    await settle();
    expect(await resolver.findClient(server.url('127.0.2.1', '/fast.json'))).toBeDefined();
    // Every request waiting for the fetch given up is told to retry...
    await expect(cut).rejects.toThrow(TemporarilyUnavailable);
    await expect(joined).rejects.toThrow(TemporarilyUnavailable);
    // ...and the document is not remembered as refused: the next request fetches it again.
    const retried = resolver.findClient(server.url('127.0.1.1', '/slow/0.json'));
    await settle();
    server.release();
    expect(await retried).toBeDefined();
    expect(server.hits.get('/slow/0.json')).toBe(hosts + 1);
    await Promise.all(running.flat().slice(1));
  });

  it('remembers a refused document briefly, apart from good ones', async () => {
    const good = server.url('127.0.0.1', '/good.json');
    expect(await resolver.findClient(good)).toBeDefined();
    const missing = server.url('127.0.0.1', '/missing/1.json');
    expect(await resolver.findClient(missing)).toBeUndefined();
    expect(await resolver.findClient(missing)).toBeUndefined();
    expect(server.hits.get('/missing/1.json')).toBe(1);

    // A flood of bad URLs does not push the good document out of its cache.
    for (let i = 0; i < 1100; i++) await resolver.findClient(server.url('127.0.0.1', `/missing/flood-${i}.json`));
    expect(await resolver.findClient(good)).toBeDefined();
    expect(server.hits.get('/good.json')).toBe(1);

    now += (CLIENT_METADATA_FAILURE_CACHE_SECONDS + 1) * 1000;
    await resolver.findClient(missing);
    expect(server.hits.get('/missing/1.json')).toBe(2);
  });
});
