import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import type { LimitStore } from '../../oauth/http/LimitStore';
import { hasRedisServer, type RedisServer, startRedis } from '../../testUtils/redisServer';
import { createLimitStore, readSharedStoreConfig, SHARED_STORE_RETRY_MS } from './createLimitStore';

jest.setTimeout(60_000);

const describeWithRedis = hasRedisServer() ? describe : describe.skip;

/** One instance's store, and what it logged. */
async function instance(backend: JsonObject) {
  const logger = mockServices.logger.mock();
  const shutdown: Array<() => Promise<void> | void> = [];
  const lifecycle = mockServices.lifecycle.mock();
  lifecycle.addShutdownHook.mockImplementation(hook => {
    shutdown.push(hook);
  });
  const store = await createLimitStore({
    rootConfig: mockServices.rootConfig({ data: { backend } }),
    logger,
    lifecycle,
    clock: () => new Date(),
  });
  const lines = (level: 'warn' | 'info') => logger[level].mock.calls.map(([message]) => String(message));
  return { store, lines, stop: () => Promise.all(shutdown.map(hook => hook())) };
}

/** Takes `count` units of one budget, spread in turn over the instances, all at once. */
async function allowedOf(stores: LimitStore[], count: number, limit: number, name = 'token:address') {
  const budgets = stores.map(store => store.windowBudget(name, { limit, windowSeconds: 3600 }));
  const decisions = await Promise.all(
    Array.from({ length: count }, (_, i) => budgets[i % budgets.length].take('203.0.113.9')),
  );
  return decisions.filter(d => d.allowed).length;
}

const waitFor = async (predicate: () => Promise<boolean>) => {
  for (let i = 0; i < 100; i++) {
    if (await predicate()) return;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  throw new Error('condition not met within 10 s');
};

describeWithRedis('rate limits shared through Redis', () => {
  let redis: RedisServer;
  const instances: Array<Awaited<ReturnType<typeof instance>>> = [];
  const start = async (backend: JsonObject) => {
    const started = await instance(backend);
    instances.push(started);
    return started;
  };
  const shared = () => ({ cache: { store: 'redis', connection: redis.url } });

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(instances.splice(0).map(i => i.stop()));
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('counts a budget once for three instances, however concurrent the requests', async () => {
    const three = (await Promise.all([start(shared()), start(shared()), start(shared())])).map(i => i.store);
    expect(await allowedOf(three, 90, 20)).toBe(20);
    // Without a shared store, each instance counts its own: three times the budget.
    const alone = (await Promise.all([start({}), start({}), start({})])).map(i => i.store);
    expect(await allowedOf(alone, 90, 20)).toBe(60);
  });

  it('keeps budgets of different names and keys apart', async () => {
    const [a, b] = (await Promise.all([start(shared()), start(shared())])).map(i => i.store);
    expect(await allowedOf([a, b], 10, 3, 'registration:address')).toBe(3);
    expect(await allowedOf([a, b], 10, 3, 'authorization:address')).toBe(3);
    const other = a.windowBudget('registration:address', { limit: 3, windowSeconds: 3600 });
    expect(await other.take('198.51.100.7')).toEqual({ allowed: true });
  });

  it('reports the first refusal of a window once across instances, with the wait', async () => {
    const [a, b] = (await Promise.all([start(shared()), start(shared())])).map(i =>
      i.store.windowBudget('deviceAuthorization:address', { limit: 1, windowSeconds: 60 }),
    );
    expect(await a.take('192.0.2.1')).toEqual({ allowed: true });
    const first = await b.take('192.0.2.1');
    const second = await a.take('192.0.2.1');
    expect(first).toMatchObject({ allowed: false, firstInWindow: true });
    expect(second).toMatchObject({ allowed: false, firstInWindow: false });
    expect(first.allowed === false && first.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(first.allowed === false && first.retryAfterSeconds).toBeLessThanOrEqual(120);
  });

  it('counts wrong user codes once for every instance, however concurrent', async () => {
    const [a, b] = (await Promise.all([start(shared()), start(shared())])).map(i =>
      i.store.failureCount('verification:user', { maxFailures: 5, windowSeconds: 300 }),
    );
    const user = 'user:default/mallory';
    const decisions = await Promise.all(Array.from({ length: 12 }, (_, i) => [a, b][i % 2].charge(user)));
    expect(decisions.filter(d => d.allowed)).toHaveLength(5);
    expect(decisions.filter(d => d.allowed && d.reachedLimit)).toHaveLength(1);
    const refused = await b.charge(user);
    expect(refused.allowed === false && refused.retryAfterSeconds).toBeGreaterThan(290);
    // A refunded attempt (a code that matched a request) frees its place.
    const [other, refunded] = [a, b];
    expect(await other.charge('user:default/alice')).toEqual({ allowed: true, reachedLimit: false });
    await refunded.refund('user:default/alice');
    const again = await Promise.all(Array.from({ length: 6 }, () => a.charge('user:default/alice')));
    expect(again.filter(d => d.allowed)).toHaveLength(5);
  });

  it('counts in memory while Redis is down, saying so once, and shares again when it is back', async () => {
    const a = await start(shared());
    const budget = a.store.windowBudget('token:address', { limit: 5, windowSeconds: 3600 });
    const take = () => budget.take('203.0.113.50');
    for (let i = 0; i < 5; i++) expect(await take()).toEqual({ allowed: true });
    expect((await take()).allowed).toBe(false);

    await redis.stop('SIGKILL');
    // Every request is answered (from this instance's own, fresh count); one warning.
    const during = await Promise.all(Array.from({ length: 20 }, take));
    expect(during.filter(d => d.allowed)).toHaveLength(5);
    await new Promise(resolve => setTimeout(resolve, SHARED_STORE_RETRY_MS + 100));
    await Promise.all(Array.from({ length: 10 }, take));
    expect(a.lines('warn').filter(line => line.includes('shared store'))).toHaveLength(1);
    expect(a.lines('warn')[0]).toContain(`127.0.0.1:${redis.port}`);

    await redis.start();
    await waitFor(async () => {
      await take();
      return a.lines('info').some(line => line.includes('shared again'));
    });
    // Redis came back empty; a second instance now shares the count with the first.
    const b = (await start(shared())).store.windowBudget('token:address', { limit: 5, windowSeconds: 3600 });
    const fresh = [budget, b];
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => fresh[i % 2].take('203.0.113.51')));
    expect(decisions.filter(d => d.allowed)).toHaveLength(5);
    expect(a.lines('warn').filter(line => line.includes('shared store'))).toHaveLength(1);
  });

  it('starts and serves requests with no Redis listening at all, never logging its password', async () => {
    const a = await start({ cache: { store: 'redis', connection: 'redis://portal:s3cret-pw@127.0.0.1:1' } });
    expect(await allowedOf([a.store], 8, 5)).toBe(5);
    expect(a.lines('warn').filter(line => line.includes('shared store'))).toHaveLength(1);
    expect([...a.lines('warn'), ...a.lines('info')].join('\n')).not.toContain('s3cret-pw');
  });
});

describe('readSharedStoreConfig', () => {
  const read = (backend: JsonObject) => {
    const logger = mockServices.logger.mock();
    const result = readSharedStoreConfig(mockServices.rootConfig({ data: { backend } }), logger);
    return { result, warnings: logger.warn.mock.calls.map(([m]) => String(m)) };
  };

  it('shares nothing with the default memory stores', () => {
    expect(read({}).result).toBeUndefined();
    expect(read({ cache: { store: 'memory' } }).result).toBeUndefined();
    expect(read({ cache: { store: 'memcache', connection: 'localhost:11211' } }).result).toBeUndefined();
    expect(read({ rateLimit: { store: { type: 'memory' } } }).result).toBeUndefined();
  });

  it("uses the backend's rate-limit store first, then its Redis or Valkey cache", () => {
    expect(
      read({
        rateLimit: { store: { type: 'redis', connection: 'redis://limits:6379' } },
        cache: { store: 'redis', connection: 'redis://cache:6379' },
      }).result,
    ).toMatchObject({ url: 'redis://limits:6379', key: 'backend.rateLimit.store' });
    expect(read({ cache: { store: 'redis', connection: { url: 'redis://cache:6379', pingInterval: 1000 } } }).result)
      .toMatchObject({ url: 'redis://cache:6379', key: 'backend.cache', prefix: 'auth:limits:' });
    expect(
      read({ cache: { store: 'redis', connection: 'redis://c:6379', redis: { client: { namespace: 'portal' } } } })
        .result,
    ).toMatchObject({ prefix: 'portal:auth:limits:' });
    expect(read({ cache: { store: 'valkey', connection: 'valkeys://v:6380' } }).result).toMatchObject({
      url: 'rediss://v:6380',
    });
  });

  it('says a cluster is not shared through, rather than pretending', () => {
    const { result, warnings } = read({
      cache: { store: 'redis', redis: { cluster: { rootNodes: [{ url: 'redis://n1:6379' }] } } },
    });
    expect(result).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('each instance counts its own')]);
  });
});
