import { createHash } from 'node:crypto';
import type { LifecycleService, LoggerService, RootConfigService } from '@backstage/backend-plugin-api';
import { createClient } from '@redis/client';
import { type LimitStore, memoryLimitStore } from '../../oauth/http/LimitStore';
import type { Clock } from '../../oauth/model';
import { type EvalScript, redisLimitStore } from './RedisLimitStore';

/** How long a request waits for the shared store before counting in memory. */
export const SHARED_STORE_TIMEOUT_MS = 500;
/** After a failure, how long requests count in memory before the store is tried again. */
export const SHARED_STORE_RETRY_MS = 1000;

/** How long an instance's start waits for the shared store to connect. */
const STARTUP_WAIT_MS = 3000;

/** A Redis (or Valkey) server the backend's config names for sharing. */
interface SharedStoreConfig {
  url: string;
  /** The rest of the connection's options (credentials, TLS), as node-redis takes them. */
  options: Record<string, unknown>;
  /** Where it was configured, for the logs. */
  key: string;
  /** Prepended to every key, after the cache's own namespace if it has one. */
  prefix: string;
}

/** Outside Keyv's namespace of the auth plugin's cache (`auth:`), so clearing that cache keeps the counts. */
const KEY_PREFIX = 'portal-oidc-limits:';

/**
 * The Redis server the backend is configured to share through: the backend's
 * rate-limit store (`backend.rateLimit.store`, `type: redis`) or else its
 * cache (`backend.cache`, `store: redis` or `valkey`, which speaks the same
 * protocol; `connection` a URL or node-redis options with a `url`).
 * Undefined when neither names one, or when the cache is a cluster (not
 * supported: each instance then counts its own).
 */
export function readSharedStoreConfig(config: RootConfigService, logger: LoggerService): SharedStoreConfig | undefined {
  const rateLimitStore = config.getOptionalConfig('backend.rateLimit.store');
  if (rateLimitStore?.getOptionalString('type') === 'redis') {
    const url = rateLimitStore.getOptionalString('connection');
    if (url) return { url, options: {}, key: 'backend.rateLimit.store', prefix: KEY_PREFIX };
  }
  const store = config.getOptionalString('backend.cache.store');
  if (store !== 'redis' && store !== 'valkey') return undefined;
  if (config.has(`backend.cache.${store}.cluster`)) {
    logger.warn(
      `backend.cache is a ${store} cluster; rate limits are not shared through clusters, so each instance counts its own`,
    );
    return undefined;
  }
  const connection = config.getOptional('backend.cache.connection');
  const { url, ...options } =
    typeof connection === 'string'
      ? { url: connection }
      : ((connection ?? {}) as { url?: unknown } & Record<string, unknown>);
  if (typeof url !== 'string' || !url) return undefined;
  const namespace =
    store === 'redis'
      ? config.getOptionalString('backend.cache.redis.client.namespace')
      : config.getOptionalString('backend.cache.valkey.client.keyPrefix');
  const separator = config.getOptionalString('backend.cache.redis.client.keyPrefixSeparator') ?? ':';
  return {
    url: url.replace(/^valkey(s?):/, 'redis$1:'),
    options,
    key: 'backend.cache',
    prefix: `${namespace ? `${namespace}${separator}` : ''}${KEY_PREFIX}`,
  };
}

/** The server a URL names, without its credentials, for logs. */
function describe(url: string): string {
  try {
    const { protocol, host } = new URL(url);
    return `${protocol}//${host}`;
  } catch {
    return 'an unparsable URL';
  }
}

/**
 * Rejects when `promise` has not settled within `ms`. A slow process must not
 * take a healthy store for a lost one: a timer that fires late (the process
 * was busy: a long GC pause, a burst of requests) gives the answer another
 * period, and the rejection waits one more turn of the event loop, so an
 * answer already received still wins.
 */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const arm = (extraPeriods: number) => {
      const armedAt = Date.now();
      timer = setTimeout(() => {
        if (extraPeriods > 0 && Date.now() - armedAt > ms * 1.2) arm(extraPeriods - 1);
        else setImmediate(() => reject(new Error(`no answer within ${ms} ms`)));
      }, ms);
    };
    arm(1);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs each count in the shared store, and in this instance's memory while
 * the store fails: sign-ins go on, each instance then enforcing the budgets
 * on its own. One warning when the store is lost, one line when it is back.
 * While it is lost no request waits for it: one probe (`ping`, which counts
 * nothing) at a time, every {@link SHARED_STORE_RETRY_MS}, finds out when it
 * answers again.
 */
export function fallingBackStore(options: {
  shared: LimitStore;
  local: LimitStore;
  ping: () => Promise<unknown>;
  logger: LoggerService;
  where: string;
  now?: () => number;
}): LimitStore & { lose(error: unknown): void } {
  const { shared, local, ping, logger, where } = options;
  const now = options.now ?? Date.now;
  let lost = false;
  let probing = false;
  let retryAt = 0;

  function lose(error: unknown) {
    if (!lost) {
      lost = true;
      logger.warn(
        `Rate limits count per instance: the shared store at ${where} failed (${error}); each instance enforces its own budgets until it answers again`,
      );
    }
    retryAt = now() + SHARED_STORE_RETRY_MS;
  }

  function probe() {
    if (probing || now() < retryAt) return;
    probing = true;
    withTimeout(ping(), SHARED_STORE_TIMEOUT_MS)
      .then(
        () => {
          if (!lost) return;
          lost = false;
          logger.info(`Rate limits are shared again through ${where}`);
        },
        () => {
          retryAt = now() + SHARED_STORE_RETRY_MS;
        },
      )
      .finally(() => {
        probing = false;
      });
  }

  async function run<T>(sharedRun: () => Promise<T>, localRun: () => Promise<T>): Promise<T> {
    if (lost) {
      probe();
      return localRun();
    }
    try {
      return await withTimeout(sharedRun(), SHARED_STORE_TIMEOUT_MS);
    } catch (error) {
      lose(error);
      return localRun();
    }
  }

  return {
    lose,
    windowBudget(name, budget) {
      const [s, l] = [shared.windowBudget(name, budget), local.windowBudget(name, budget)];
      return { take: key => run(() => s.take(key), () => l.take(key)) };
    },
    failureCount(name, budget) {
      const [s, l] = [shared.failureCount(name, budget), local.failureCount(name, budget)];
      return {
        async charge(key) {
          const decision = await run(() => s.charge(key), () => l.charge(key));
          if (!decision.allowed) return decision;
          // Refunded where it was charged; a refund the store loses costs the user one attempt.
          return { ...decision, refund: () => decision.refund().catch(() => undefined) };
        },
      };
    },
    marks(name) {
      const [s, l] = [shared.marks(name), local.marks(name)];
      return {
        has: key => run(() => s.has(key), () => l.has(key)),
        // Kept in memory too: the mark outlives a loss of the store.
        remember: async (key, ttlSeconds) => {
          await l.remember(key, ttlSeconds);
          await run(() => s.remember(key, ttlSeconds), async () => undefined);
        },
      };
    },
  };
}

/** EVALSHA, and EVAL once when the server does not know the script yet. */
function scriptRunner(send: (args: string[]) => Promise<unknown>): EvalScript {
  const shas = new Map<string, string>();
  return async (script, keys, args) => {
    let sha = shas.get(script);
    if (!sha) {
      sha = createHash('sha1').update(script).digest('hex');
      shas.set(script, sha);
    }
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await send(['EVALSHA', sha, ...tail]);
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
      return send(['EVAL', script, ...tail]);
    }
  };
}

/**
 * Where the provider's rate limits count (issue 26): in the Redis or Valkey
 * server the backend's config shares (see {@link readSharedStoreConfig}),
 * once for every instance, falling back to each instance's memory while it
 * is unreachable; in each instance's memory when none is configured.
 */
export async function createLimitStore(options: {
  rootConfig: RootConfigService;
  logger: LoggerService;
  lifecycle: LifecycleService;
  clock: Clock;
}): Promise<LimitStore> {
  const { rootConfig, logger, lifecycle, clock } = options;
  const local = memoryLimitStore(clock);
  const config = readSharedStoreConfig(rootConfig, logger);
  if (!config) return local;
  const where = describe(config.url);
  const socket = (config.options.socket ?? {}) as Record<string, unknown>;
  const client = createClient({
    ...config.options,
    url: config.url,
    // A command sent while disconnected fails at once instead of waiting.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      ...socket,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
    },
  });
  // Failures surface as failed commands, reported once by fallingBackStore.
  client.on('error', () => undefined);
  // Connected before the first request when the store is up; an instance
  // starting while it is down does not wait for it.
  const connected = client.connect();
  connected.catch(() => undefined);
  lifecycle.addShutdownHook(async () => {
    await client.disconnect().catch(() => undefined);
  });
  const shared = redisLimitStore({
    evalScript: scriptRunner(args => client.sendCommand(args)),
    prefix: config.prefix,
    clock,
  });
  const store = fallingBackStore({ shared, local, ping: () => client.ping(), logger, where });
  try {
    // Says "shared" only once the server answered, credentials and all.
    await withTimeout(connected.then(() => client.ping()), STARTUP_WAIT_MS);
    logger.info(`Rate limits are shared by every instance through ${where} (${config.key})`);
  } catch (error) {
    store.lose(error);
  }
  return store;
}
