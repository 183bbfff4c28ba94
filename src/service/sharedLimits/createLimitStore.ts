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
  /** Where it was configured, for the logs. */
  key: string;
  /** Prepended to every key, after the cache's own namespace if it has one. */
  prefix: string;
}

/**
 * The Redis server the backend is configured to share through: the backend's
 * rate-limit store (`backend.rateLimit.store`, `type: redis`) or else its
 * cache (`backend.cache`, `store: redis` or `valkey`, which speaks the same
 * protocol). Undefined when neither names one, or when only a cluster is
 * configured (not supported: each instance then counts its own).
 */
export function readSharedStoreConfig(config: RootConfigService, logger: LoggerService): SharedStoreConfig | undefined {
  const rateLimitStore = config.getOptionalConfig('backend.rateLimit.store');
  if (rateLimitStore?.getOptionalString('type') === 'redis') {
    const url = rateLimitStore.getOptionalString('connection');
    if (url) return { url, key: 'backend.rateLimit.store', prefix: 'auth:limits:' };
  }
  const store = config.getOptionalString('backend.cache.store');
  if (store !== 'redis' && store !== 'valkey') return undefined;
  const connection = config.getOptional('backend.cache.connection');
  const url =
    typeof connection === 'string'
      ? connection
      : config.getOptionalString('backend.cache.connection.url');
  if (!url) {
    if (config.has(`backend.cache.${store}.cluster`)) {
      logger.warn(
        `backend.cache is a ${store} cluster; rate limits are not shared through clusters, so each instance counts its own`,
      );
    }
    return undefined;
  }
  const namespace =
    store === 'redis'
      ? config.getOptionalString('backend.cache.redis.client.namespace')
      : config.getOptionalString('backend.cache.valkey.client.keyPrefix');
  const separator = config.getOptionalString('backend.cache.redis.client.keyPrefixSeparator') ?? ':';
  return {
    url: url.replace(/^valkey(s?):/, 'redis$1:'),
    key: 'backend.cache',
    prefix: `${namespace ? `${namespace}${separator}` : ''}auth:limits:`,
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs each count in the shared store, and in this instance's memory while
 * the store fails: sign-ins go on, each instance then enforcing the budgets
 * on its own. One warning when the store is lost, one line when it is back;
 * while lost, requests do not wait for it, and one is tried again every
 * {@link SHARED_STORE_RETRY_MS}.
 */
export function fallingBackStore(options: {
  shared: LimitStore;
  local: LimitStore;
  logger: LoggerService;
  where: string;
  now?: () => number;
}): LimitStore {
  const { shared, local, logger, where } = options;
  const now = options.now ?? Date.now;
  let lost = false;
  let retryAt = 0;
  async function run<T>(sharedRun: () => Promise<T>, localRun: () => Promise<T>): Promise<T> {
    if (lost && now() < retryAt) return localRun();
    let result: T;
    try {
      result = await withTimeout(sharedRun(), SHARED_STORE_TIMEOUT_MS);
    } catch (error) {
      if (!lost) {
        lost = true;
        logger.warn(
          `Rate limits count per instance: the shared store at ${where} failed (${error}); each instance enforces its own budgets until it answers again`,
        );
      }
      retryAt = now() + SHARED_STORE_RETRY_MS;
      return localRun();
    }
    if (lost) {
      lost = false;
      logger.info(`Rate limits are shared again through ${where}`);
    }
    return result;
  }
  return {
    windowBudget(name, budget) {
      const [s, l] = [shared.windowBudget(name, budget), local.windowBudget(name, budget)];
      return { take: key => run(() => s.take(key), () => l.take(key)) };
    },
    failureCount(name, budget) {
      const [s, l] = [shared.failureCount(name, budget), local.failureCount(name, budget)];
      return {
        charge: key => run(() => s.charge(key), () => l.charge(key)),
        refund: key => run(() => s.refund(key), () => l.refund(key)),
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
  const client = createClient({
    url: config.url,
    // A command sent while disconnected fails at once instead of waiting.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: retries => Math.min(100 * 2 ** retries, 2000),
    },
  });
  // Failures surface as failed commands, reported once by fallingBackStore.
  client.on('error', () => undefined);
  // Connected before the first request when the store is up; an instance
  // starting while it is down does not wait for it.
  const connected = client.connect();
  await withTimeout(connected, STARTUP_WAIT_MS).catch(() => undefined);
  connected.catch(() => undefined);
  lifecycle.addShutdownHook(async () => {
    await client.disconnect().catch(() => undefined);
  });
  logger.info(`Rate limits are shared by every instance through ${where} (${config.key})`);
  const shared = redisLimitStore({
    evalScript: scriptRunner(args => client.sendCommand(args)),
    prefix: config.prefix,
    clock,
  });
  return fallingBackStore({ shared, local, logger, where });
}
