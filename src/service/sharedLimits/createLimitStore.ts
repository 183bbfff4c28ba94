import { createHash } from 'node:crypto';
import type { LifecycleService, LoggerService, RootConfigService } from '@backstage/backend-plugin-api';
import { createClient } from '@redis/client';
import { type LimitStore, memoryLimitStore } from '../../oauth/http/LimitStore';
import type { Clock } from '../../oauth/model';
import { fallingBackStore, withTimeout } from './fallingBackStore';
import { type EvalScript, redisLimitStore } from './RedisLimitStore';

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
