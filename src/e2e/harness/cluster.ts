import {
  type CacheService,
  coreServices,
  createBackendPlugin,
  type RootLoggerService,
} from '@backstage/backend-plugin-api';
import { cacheServiceFactory } from '@backstage/backend-defaults/cache';
import type { Entity } from '@backstage/catalog-model';
import type { JsonObject } from '@backstage/types';
import type { Knex } from 'knex';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisServer } from '../../testUtils/redisServer';
import { secondPool } from './secondPool';
import { type AuthBackend, signInAsGuestAt, startAuthBackend } from './startAuthBackend';

// ─── Logs ─────────────────────────────────────────────────────────────────

/** One line a replica logged. */
export interface LogRecord {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta: JsonObject;
}

/**
 * A root logger that keeps every line (with its children's metadata) in
 * `records`; with CLUSTER_LOGS=1 in the environment it prints them too
 * (request lines and debug excepted).
 */
export function capturingLogger(records: LogRecord[], meta: JsonObject = {}): RootLoggerService {
  const log = (level: LogRecord['level']) => (message: string, extra?: Error | JsonObject) => {
    const more: JsonObject =
      extra instanceof Error ? { error: `${extra.name}: ${extra.message}` } : (extra ?? {});
    records.push({ level, message: String(message), meta: { ...meta, ...more } });
    if (process.env.CLUSTER_LOGS && level !== 'debug' && !('url' in more && level === 'info')) {
      // eslint-disable-next-line no-console
      console.log(`[${meta.replica ?? '?'}] ${level} ${message}`);
    }
  };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    child: childMeta => capturingLogger(records, { ...meta, ...childMeta }),
  };
}

// ─── The cluster ──────────────────────────────────────────────────────────

/** The replicas' names, in the order the proxy starts its rotation. */
export const REPLICA_NAMES = ['A', 'B', 'C'] as const;
export type ReplicaName = (typeof REPLICA_NAMES)[number];

/** The address the proxy forwards for requests that choose none. */
export const DEFAULT_CLIENT_ADDRESS = '192.0.2.1';

/** One backend instance of the cluster. */
export interface Replica {
  readonly name: ReplicaName;
  /** The backend itself, reached directly (not through the proxy). */
  readonly backend: AuthBackend;
  /** Every line it logged. */
  readonly logs: LogRecord[];
  /** The cache service a probe plugin got on this replica (the store the backend config names). */
  readonly cache: CacheService;
  /** False once {@link Cluster.kill} killed it. */
  alive: boolean;
}

/** One response the proxy relayed (or made up, 502, when the replica was unreachable). */
export interface ProxiedResponse {
  replica: ReplicaName | undefined;
  method: string;
  path: string;
  status: number;
}

/** What {@link startCluster} returns. */
export interface Cluster {
  /** The proxy's origin, every replica's external base URL: `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `${url}/api/auth`: the one issuer of all replicas. */
  readonly issuer: string;
  readonly replicas: Replica[];
  replica(name: ReplicaName): Replica;
  /** Every response through the proxy, in order. */
  readonly responses: ProxiedResponse[];
  /**
   * The cluster as one client sees it: requests go through the proxy, to the
   * next live replica in turn or always to `replica`, and the replicas see
   * them coming from `address` (X-Forwarded-For, which they trust from the
   * proxy). Pass the result wherever an {@link AuthBackend} is expected.
   */
  via(options?: { replica?: ReplicaName; address?: string }): AuthBackend;
  /**
   * Kills a replica: the proxy stops routing to it, its open connections
   * (the proxy's keep-alive ones too) are destroyed mid-flight, then the
   * backend is stopped and its connection pool closed. (It shares the
   * test's process, so its shutdown hooks still run; what it kept in
   * memory is gone all the same.)
   */
  kill(name: ReplicaName): Promise<void>;
  /** Stops the proxy and every live replica. */
  stop(): Promise<void>;
}

/** `/__via/<replica or any>/<client address>` before the path chooses the route. */
const VIA_PREFIX = '/__via';
const VIA_PATH = new RegExp(`^${VIA_PREFIX}/([^/]+)/([^/]+)(/.*)?$`);

/** Headers a proxy does not pass on (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * A load balancer in plain node:http: each request goes to the next live
 * replica in turn (or the one its `/__via/<name>/` prefix pins), with
 * X-Forwarded-For set to the client address the prefix names (or
 * {@link DEFAULT_CLIENT_ADDRESS}), replacing any the client sent.
 */
class RoundRobinProxy {
  readonly responses: ProxiedResponse[] = [];
  readonly #targets = new Map<ReplicaName, { url: URL; agent: http.Agent; alive: boolean }>();
  readonly #server = http.createServer((req, res) => this.#forward(req, res));
  #turn = 0;

  async listen(): Promise<string> {
    await new Promise<void>(resolve => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  add(name: ReplicaName, url: URL) {
    this.#targets.set(name, { url, agent: new http.Agent({ keepAlive: true }), alive: true });
  }

  /** Stops routing to `name` and destroys the proxy's connections to it. */
  drop(name: ReplicaName) {
    const target = this.#targets.get(name);
    if (!target) return;
    target.alive = false;
    target.agent.destroy();
  }

  async close() {
    this.#server.closeAllConnections();
    await new Promise<void>(resolve => this.#server.close(() => resolve()));
    for (const target of this.#targets.values()) target.agent.destroy();
  }

  #pick(pinned: string | undefined): ReplicaName | undefined {
    if (pinned && pinned !== 'any') {
      const target = this.#targets.get(pinned as ReplicaName);
      return target?.alive ? (pinned as ReplicaName) : undefined;
    }
    const live = [...this.#targets].filter(([, t]) => t.alive).map(([name]) => name);
    if (live.length === 0) return undefined;
    return live[this.#turn++ % live.length];
  }

  #forward(req: http.IncomingMessage, res: http.ServerResponse) {
    let target = req.url ?? '/';
    let pinned: string | undefined;
    let address = DEFAULT_CLIENT_ADDRESS;
    const via = VIA_PATH.exec(target);
    if (via) {
      [, pinned, address] = via;
      target = via[3] ?? '/';
    }
    const name = this.#pick(pinned);
    const record = (status: number) =>
      this.responses.push({ replica: name, method: req.method ?? 'GET', path: target.split('?')[0], status });
    const replica = name && this.#targets.get(name);
    if (!name || !replica) {
      record(502);
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`no live replica${pinned ? ` ${pinned}` : ''}`);
      req.resume();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(key)) headers[key] = value;
    }
    headers['x-forwarded-for'] = address;
    const upstream = http.request(
      {
        host: replica.url.hostname === 'localhost' ? '127.0.0.1' : replica.url.hostname,
        port: replica.url.port,
        method: req.method,
        path: target,
        headers,
        agent: replica.agent,
      },
      answer => {
        record(answer.statusCode ?? 0);
        const out: http.OutgoingHttpHeaders = {};
        for (const [key, value] of Object.entries(answer.headers)) {
          if (!HOP_BY_HOP.has(key) && value !== undefined) out[key] = value;
        }
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', error => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      record(502);
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`replica ${name} failed: ${error.message}`);
    });
    req.pipe(upstream);
  }
}

/** What a replica's config adds for the store under test. */
function storeConfig(store: 'memory' | 'redis', redisUrl: string | undefined): JsonObject {
  if (store === 'memory') return { cache: { store: 'memory' } };
  if (!redisUrl) throw new Error("store 'redis' needs a RedisServer");
  return {
    cache: { store: 'redis', connection: redisUrl },
    // The store for rate limits; `global: false` keeps backend-defaults' own
    // per-address limiter (5 requests a minute by default) off.
    rateLimit: { global: false, store: { type: 'redis', connection: redisUrl } },
  };
}

/** A plugin that only hands out the cache service its backend built, so a test can check which store that is. */
function cacheProbe(found: (cache: CacheService) => void) {
  return createBackendPlugin({
    pluginId: 'cacheprobe',
    register(reg) {
      reg.registerInit({
        deps: { cache: coreServices.cache },
        async init({ cache }) {
          found(cache);
        },
      });
    },
  });
}

/**
 * Three replicas of the backend (`startAuthBackend` with backend-defaults'
 * root HTTP router, so `backend.*` applies) on one database, each with its
 * own connection pool, behind a round-robin HTTP proxy on loopback.
 *
 * - `store: 'memory'`: `backend.cache.store: memory`; `'redis'`:
 *   `backend.cache: { store: redis, connection }` and
 *   `backend.rateLimit.store` for `redis`, the server this test spawned.
 *   backend-defaults' real `cacheServiceFactory` serves either (not
 *   startTestBackend's in-memory mock).
 * - Every replica has `backend.trustProxy: 'loopback'` and the proxy's URL as
 *   its external base URL: one issuer, and the client address the proxy
 *   forwards is the one each replica charges.
 * - `config` is merged like startAuthBackend's; its `backend` key is merged
 *   into the one this sets.
 */
export async function startCluster(options: {
  knex: Knex;
  store: 'memory' | 'redis';
  redis?: RedisServer;
  config?: JsonObject;
  entities?: Entity[];
  features?: Parameters<typeof startAuthBackend>[0]['features'];
}): Promise<Cluster> {
  const proxy = new RoundRobinProxy();
  const url = await proxy.listen();
  const replicas: Replica[] = [];
  const pools = new Map<ReplicaName, { close(): Promise<void> }>();

  async function startReplica(name: ReplicaName): Promise<Replica> {
    const pool = secondPool(options.knex);
    pools.set(name, pool);
    const logs: LogRecord[] = [];
    let cache: CacheService | undefined;
    const extra = options.config ?? {};
    const backend = await startAuthBackend({
      knex: pool.knex,
      productionHttpRouter: true,
      externalBaseUrl: url,
      rootLogger: capturingLogger(logs, { replica: name }),
      entities: options.entities,
      features: [
        ...(options.features ?? []),
        cacheServiceFactory,
        cacheProbe(found => {
          cache = found;
        }),
      ],
      config: {
        ...extra,
        backend: {
          trustProxy: 'loopback',
          ...storeConfig(options.store, options.redis?.url),
          ...((extra.backend as JsonObject | undefined) ?? {}),
        },
      },
    });
    if (!cache) throw new Error('the cache probe did not start');
    return { name, backend, logs, cache, alive: true };
  }

  try {
    // The first creates the tables; the others start together.
    replicas.push(await startReplica('A'));
    replicas.push(...(await Promise.all(REPLICA_NAMES.slice(1).map(startReplica))));
  } catch (error) {
    await Promise.allSettled(replicas.map(r => r.backend.stop()));
    await Promise.allSettled([...pools.values()].map(p => p.close()));
    await proxy.close();
    throw error;
  }
  for (const replica of replicas) proxy.add(replica.name, new URL(replica.backend.baseUrl));

  const find = (name: ReplicaName) => {
    const found = replicas.find(r => r.name === name);
    if (!found) throw new Error(`no replica ${name}`);
    return found;
  };

  return {
    url,
    issuer: `${url}/api/auth`,
    replicas,
    replica: find,
    responses: proxy.responses,
    via(route = {}) {
      const address = route.address ?? DEFAULT_CLIENT_ADDRESS;
      const server = `${url}${VIA_PREFIX}/${route.replica ?? 'any'}/${address}`;
      return {
        server,
        baseUrl: url,
        issuer: `${url}/api/auth`,
        signInAsGuest: () => signInAsGuestAt(server),
        stop: async () => {},
      };
    },
    async kill(name) {
      const replica = find(name);
      if (!replica.alive) return;
      replica.alive = false;
      proxy.drop(name);
      const server = replica.backend.server as http.Server;
      server.closeAllConnections();
      await replica.backend.stop().catch(() => undefined);
      await pools.get(name)?.close();
    },
    async stop() {
      await proxy.close();
      for (const replica of replicas) {
        if (replica.alive) {
          replica.alive = false;
          await replica.backend.stop().catch(() => undefined);
        }
      }
      await Promise.allSettled([...pools.values()].map(p => p.close()));
    },
  };
}
