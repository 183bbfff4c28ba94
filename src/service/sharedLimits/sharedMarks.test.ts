import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockServices } from '@backstage/backend-test-utils';
import { documentClientResolver } from '../../testUtils/documentClientResolver';
import { hasRedisServer, type RedisServer, startRedis } from '../../testUtils/redisServer';
import { createLimitStore } from './createLimitStore';

jest.setTimeout(60_000);

const shutdown: Array<() => void | Promise<void>> = [];

/** One instance's client resolver, its refusals remembered where the backend's cache config says. */
async function resolverWith(backendCache: Record<string, string>) {
  const clock = () => new Date();
  const lifecycle = mockServices.lifecycle.mock();
  lifecycle.addShutdownHook.mockImplementation(hook => {
    shutdown.push(hook);
  });
  const limits = await createLimitStore({
    rootConfig: mockServices.rootConfig({ data: { backend: { cache: backendCache } } }),
    logger: mockServices.logger.mock(),
    lifecycle,
    clock,
  });
  return documentClientResolver({ clock, sharedFailures: limits.marks('client-metadata-failure') });
}

(hasRedisServer() ? describe : describe.skip)('refused metadata documents across instances', () => {
  let redis: RedisServer;
  let server: http.Server;
  let fetches = 0;
  let url: string;

  beforeAll(async () => {
    redis = await startRedis();
    server = http.createServer((_req, res) => {
      fetches += 1;
      res.writeHead(404).end();
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/clients`;
  });
  afterAll(async () => {
    await Promise.all(shutdown.splice(0).map(hook => hook()));
    await new Promise(resolve => server?.close(resolve));
    await redis?.close();
  });
  beforeEach(() => {
    fetches = 0;
  });

  it('are fetched once for every instance when the backend shares a Redis cache', async () => {
    const instances = await Promise.all([1, 2, 3].map(() => resolverWith({ store: 'redis', connection: redis.url })));
    for (const instance of instances) expect(await instance.findClient(`${url}/shared.json`)).toBeUndefined();
    expect(fetches).toBe(1);
  });

  it('are fetched once by each instance with the default memory cache', async () => {
    const instances = await Promise.all([1, 2, 3].map(() => resolverWith({ store: 'memory' })));
    for (const instance of instances) expect(await instance.findClient(`${url}/alone.json`)).toBeUndefined();
    expect(fetches).toBe(3);
  });

  it('are fetched again when Redis is unreachable, without failing the request', async () => {
    const instance = await resolverWith({ store: 'redis', connection: 'redis://127.0.0.1:1' });
    expect(await instance.findClient(`${url}/lost.json`)).toBeUndefined();
    expect(fetches).toBe(1);
  });
});
