/*
 * One benchmark host: a real Backstage backend (createBackend) with the guest
 * provider, an in-memory catalog holding the guest user, and one auth plugin:
 * this one (BENCH_TARGET=ours), @backstage/plugin-auth-backend 0.31.0
 * (upstream) or 0.30.1 (upstream-0.30). Everything else is identical. The
 * database is SQLite in memory, or BENCH_DATABASE (PostgreSQL) with the
 * BENCH_DB_PREFIX database prefix. Started by bench/run.js through
 * bench/hosts.js. BENCH_REDIS (a redis:// URL) makes it one replica of a
 * cluster (bench/cluster.js): the backend's cache is that Redis server, which
 * this plugin's rate limits then count in, shared by every replica; and
 * BENCH_BASE_URL is then the address the replicas are reached at (the
 * cluster's proxy), as it would be behind a load balancer.
 *
 * stdout: `READY {json}` once the backend listens, naming the package, its
 * version and the migrations directory really loaded, and the migrations
 * applied. stdin: `start <profile file|->` collects the heap (the set-up
 * before a run, such as minting thousands of codes, leaves garbage whose
 * collection would otherwise land in the measured run), zeroes the SQL
 * statement counters (and starts a V8 CPU profile), answered `STARTED`; `stop` answers
 * `STOPPED {json}` with the statements sent since.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createBackend } from '@backstage/backend-defaults';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';

const target = process.env.BENCH_TARGET ?? 'ours';
const port = Number(process.env.BENCH_PORT);
const baseUrl = process.env.BENCH_BASE_URL || `http://localhost:${port}`;
/** The backend's cache: Redis when this host is a replica of the cluster part, else the default (memory). */
const cache = process.env.BENCH_REDIS ? { cache: { store: 'redis', connection: process.env.BENCH_REDIS } } : {};
const database = process.env.BENCH_DATABASE
  ? { client: 'pg', connection: process.env.BENCH_DATABASE, prefix: process.env.BENCH_DB_PREFIX }
  : { client: 'better-sqlite3', connection: ':memory:' };

/** Every pre-registered client of the bench: public (no secret), PKCE, one redirect URI. */
const REDIRECT_URI = 'http://127.0.0.1:9999/callback';
const STATIC_CLIENT_IDS = ['bench', 'bench-authorize'];
/** The resource server of the audience-bound token scenario (issue 14). */
const RESOURCE = { resource: 'https://mcp.example.com/mcp', scopes: ['mcp:tools'] };
const UNREACHABLE = 100_000_000;

// ---------------------------------------------------------------- SQL statement counting

/**
 * Every statement a plugin sends goes through its knex client's `_query`
 * (transactions' BEGIN/COMMIT/ROLLBACK too), once per round trip to the
 * server; patching the dialects' prototypes counts them for every knex
 * instance in this process. The scheduler's own polling of its task table is
 * kept apart: it is no request's work.
 */
const counts = newCounts();
let counting = false;
/** Statement names by SQL text, so counting costs the host little. */
const names = new Map<string, string>();
const appliedMigrations: string[] = [];

function newCounts() {
  return { statements: 0, roundTrips: 0, scheduler: 0, byName: {} as Record<string, number> };
}

function countStatement(sql: string, bindings: unknown): void {
  if (/^\s*insert into [`"]?knex_migrations[`"]?\s/i.test(sql) && Array.isArray(bindings)) {
    appliedMigrations.push(...bindings.filter((b): b is string => typeof b === 'string' && b.endsWith('.js')));
  }
  if (!counting) return;
  if (/backstage_backend_tasks/i.test(sql)) {
    counts.scheduler++;
    return;
  }
  counts.roundTrips++;
  let name = names.get(sql);
  if (name === undefined) {
    name = statementName(sql);
    if (names.size < 10_000) names.set(sql, name);
  }
  counts.byName[name] = (counts.byName[name] ?? 0) + 1;
  if (!/^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SET)\b/.test(name)) counts.statements++;
}

/** `VERB table, table…`: the verb (and any data-modifying verbs in a CTE) and the tables named. */
function statementName(sql: string): string {
  const text = sql.replace(/\s+/g, ' ').trim();
  const verb = text.split(' ')[0].replace(/;$/, '').toUpperCase();
  if (['BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'SET'].includes(verb)) return verb;
  const tables: string[] = [];
  for (const m of text.matchAll(/\b(?:from|into|update|join)\s+[`"]?([a-z_][a-z0-9_]*)[`"]?/gi)) {
    if (!tables.includes(m[1]) && !['select', 'lateral'].includes(m[1].toLowerCase())) tables.push(m[1]);
  }
  const modifying =
    verb === 'WITH'
      ? [...new Set([...text.matchAll(/\b(insert|update|delete)\b/gi)].map(m => m[1].toUpperCase()))]
      : [];
  const upsert = /\bon conflict\b|\bon duplicate key\b/i.test(text) ? ' (upsert)' : '';
  return `${verb}${modifying.length ? `(${modifying.join('+')})` : ''} ${tables.join(', ')}${upsert}`;
}

for (const dialect of ['postgres', 'better-sqlite3']) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Client = require(`knex/lib/dialects/${dialect}`);
  const query = Client.prototype._query;
  Client.prototype._query = function countedQuery(connection: unknown, obj: { sql: string; bindings?: unknown }) {
    countStatement(obj.sql, obj.bindings);
    return query.call(this, connection, obj);
  };
}

// ---------------------------------------------------------------- the plugin under test

/** What this host loads: the package, and where its migrations come from. */
function describeTarget() {
  if (target === 'ours' || target === 'baseline') {
    const dir = target === 'ours' ? join(__dirname, '..') : process.env.BENCH_BASELINE;
    if (!dir) throw new Error('BENCH_TARGET=baseline needs BENCH_BASELINE, a checkout of this plugin');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    return { module: join(dir, 'src', 'index.ts'), pkg, dir, migrationsDir: join(dir, 'migrations') };
  }
  const alias = { upstream: 'upstream-auth-backend-0-31', 'upstream-0.30': 'upstream-auth-backend-0-30' }[target];
  if (!alias) throw new Error(`unknown BENCH_TARGET ${target}`);
  const dir = dirname(require.resolve(`${alias}/package.json`));
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  // Up to 0.30 the plugin found its migrations by package name, which
  // resolves to whatever @backstage/plugin-auth-backend is installed; 0.31
  // looks next to its own files.
  const byName = /resolvePackagePath\(\s*["']@backstage\/plugin-auth-backend["']/.test(
    readFileSync(join(dir, 'dist/database/AuthDatabase.cjs.js'), 'utf8'),
  );
  const migrationsDir = byName ? resolvePackagePath('@backstage/plugin-auth-backend', 'migrations') : join(dir, 'migrations');
  return { module: alias, pkg, dir, migrationsDir };
}

const described = describeTarget();
const migrationsPkg = JSON.parse(readFileSync(join(described.migrationsDir, '..', 'package.json'), 'utf8'));

/** Our limits default to human-sized budgets; a load generator on one address would only measure 429s. */
const oursConfig = {
  staticClients: STATIC_CLIENT_IDS.map(clientId => ({ clientId, redirectUris: [REDIRECT_URI] })),
  oidcProvider: {
    // The limiters themselves still run.
    rateLimits: Object.fromEntries(
      ['authorization', 'registration', 'token', 'deviceAuthorization', 'verification'].map(e => [
        e,
        { requests: UNREACHABLE },
      ]),
    ),
    resources: [RESOURCE],
  },
};
const authConfig = {
  providers: { guest: { dangerouslyAllowOutsideDevelopment: true } },
  ...(target === 'ours' || target === 'baseline' ? oursConfig : {}),
  // 0.31 removed dynamic client registration and reads pre-registered clients.
  ...(target === 'upstream' ? { staticClients: oursConfig.staticClients } : {}),
  ...(target === 'upstream-0.30' ? { experimentalDynamicClientRegistration: { enabled: true } } : {}),
};

const backend = createBackend();
backend.add(
  mockServices.rootConfig.factory({
    data: {
      app: { baseUrl: 'http://localhost:3000' },
      backend: {
        baseUrl,
        listen: { port, host: '127.0.0.1' },
        database,
        ...cache,
      },
      auth: authConfig,
    },
  }),
);
backend.add(
  catalogServiceMock.factory({
    entities: [
      {
        apiVersion: 'backstage.io/v1alpha1',
        kind: 'User',
        metadata: { name: 'guest', namespace: 'development' },
        spec: { profile: { displayName: 'Guest', email: 'guest@example.com' }, memberOf: [] },
      },
    ],
  }),
);
backend.add(import(described.module));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));

backend.start().then(
  () => {
    const loaded = {
      package: described.pkg.name,
      version: described.pkg.version,
      packageDir: described.dir,
      migrationsDir: described.migrationsDir,
      migrationsVersion: migrationsPkg.version,
      migrationsApplied: appliedMigrations.length,
      lastMigration: appliedMigrations.sort().at(-1),
      database: database.client,
    };
    process.stdout.write(`READY ${JSON.stringify(loaded)}\n`);
  },
  error => {
    process.stderr.write(`bench host failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);

// ---------------------------------------------------------------- measurement commands

const session = new Session();
const post = (method: string) =>
  new Promise<any>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
let profileFile = '';
createInterface({ input: process.stdin }).on('line', async line => {
  const [command, argument] = line.split(' ');
  if (command === 'start') {
    (globalThis as { gc?: () => void }).gc?.();
    profileFile = argument && argument !== '-' ? argument : '';
    if (profileFile) {
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.start');
    }
    Object.assign(counts, newCounts());
    counting = true;
    process.stdout.write('STARTED\n');
  } else if (command === 'stop') {
    counting = false;
    if (profileFile) {
      const { profile } = await post('Profiler.stop');
      session.disconnect();
      mkdirSync(dirname(profileFile), { recursive: true });
      writeFileSync(profileFile, JSON.stringify(profile));
    }
    process.stdout.write(`STOPPED ${JSON.stringify(counts)}\n`);
  }
});
