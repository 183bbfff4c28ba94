import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createClient } from '@redis/client';
import type { LimitStore } from '../../oauth/http/LimitStore';
import { hasRedisServer, type RedisServer, startRedis } from '../../testUtils/redisServer';
import { createLimitStore, readSharedStoreConfig } from './createLimitStore';
import { SHARED_STORE_RETRY_MS } from './fallingBackStore';

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

/** How many scripts (EVALSHA and EVAL) the server has run. */
async function scriptCalls(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const info = await client.info('commandstats');
    return [...info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  } finally {
    await client.disconnect();
  }
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
    const charged = await a.charge('user:default/alice');
    expect(charged).toMatchObject({ allowed: true, reachedLimit: false });
    if (charged.allowed) await charged.refund();
    const again = await Promise.all(Array.from({ length: 6 }, () => b.charge('user:default/alice')));
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

  it('sends no count to a hung Redis once it is found lost, only one probe at a time', async () => {
    const a = await start(shared());
    const budget = a.store.windowBudget('token:address', { limit: 1000, windowSeconds: 3600 });
    const take = () => budget.take('203.0.113.60');
    expect(await take()).toEqual({ allowed: true });
    const before = await scriptCalls(redis.url);
    redis.freeze(true);
    let sentAfterLoss = 0;
    try {
      // Requests keep coming, none waiting for another: those sent before the
      // loss is noticed wait for the timeout; every later one counts in memory.
      const during: Array<Promise<unknown>> = [];
      for (let i = 0; i < 100; i++) {
        if (a.lines('warn').length > 0) sentAfterLoss += 1;
        during.push(take());
        await new Promise(resolve => setTimeout(resolve, 25));
      }
      await Promise.all(during);
    } finally {
      redis.freeze(false);
    }
    // Redis ran what was sent to it before the loss, on waking; nothing after.
    const sent = (await scriptCalls(redis.url)) - before;
    expect(sentAfterLoss).toBeGreaterThan(50);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(100 - sentAfterLoss);
    expect(a.lines('warn').filter(line => line.includes('shared store'))).toHaveLength(1);
    await waitFor(async () => {
      await take();
      return a.lines('info').some(line => line.includes('shared again'));
    });
  });

  it('does not take a busy process for a lost store', async () => {
    const a = await start(shared());
    const budget = a.store.windowBudget('authorization:address', { limit: 3, windowSeconds: 3600 });
    for (let i = 0; i < 3; i++) expect(await budget.take('192.0.2.80')).toEqual({ allowed: true });
    const pending = budget.take('192.0.2.80');
    // The event loop is blocked for longer than the timeout while the answer is on its way.
    const until = Date.now() + 800;
    while (Date.now() < until);
    expect(await pending).toMatchObject({ allowed: false });
    expect(a.lines('warn')).toEqual([]);
  });

  it('shares the limits once a Redis that was down at startup comes up', async () => {
    await redis.stop('SIGKILL');
    const a = await start(shared());
    expect(a.lines('warn').filter(line => line.includes('shared store'))).toHaveLength(1);
    await redis.start();
    const budget = a.store.windowBudget('registration:address', { limit: 2, windowSeconds: 3600 });
    await waitFor(async () => {
      await budget.take('198.51.100.70');
      return a.lines('info').some(line => line.includes('shared again'));
    });
    const b = (await start(shared())).store.windowBudget('registration:address', { limit: 2, windowSeconds: 3600 });
    const decisions = await Promise.all(Array.from({ length: 6 }, (_, i) => [budget, b][i % 2].take('198.51.100.71')));
    expect(decisions.filter(d => d.allowed)).toHaveLength(2);
  });

  it('uses the credentials of a connection given as options, and says when they are refused', async () => {
    const guarded = await startRedis(['--requirepass', 'limits-pw']);
    try {
      const url = `redis://127.0.0.1:${guarded.port}`;
      const right = await start({ cache: { store: 'redis', connection: { url, password: 'limits-pw' } } });
      expect(right.lines('info')).toEqual([expect.stringContaining('shared by every instance')]);
      expect(await allowedOf([right.store, right.store], 6, 4, 'authorization:address')).toBe(4);
      const wrong = await start({ cache: { store: 'redis', connection: { url, password: 'nope' } } });
      expect(wrong.lines('info')).toEqual([]);
      expect(wrong.lines('warn')).toEqual([expect.stringContaining('shared store')]);
      expect(wrong.lines('warn').join('')).not.toContain('nope');
    } finally {
      await guarded.close();
    }
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
      .toMatchObject({ url: 'redis://cache:6379', key: 'backend.cache', prefix: 'portal-oidc-limits:' });
    expect(
      read({ cache: { store: 'redis', connection: 'redis://c:6379', redis: { client: { namespace: 'portal' } } } })
        .result,
    ).toMatchObject({ prefix: 'portal:portal-oidc-limits:' });
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
