/*
 * One benchmark host: a real Backstage backend (createBackend) with the guest
 * provider, an in-memory catalog holding the guest user, and either this
 * plugin (BENCH_TARGET=ours) or @backstage/plugin-auth-backend 0.30.1
 * (BENCH_TARGET=upstream). Everything else is identical. Prints "READY" on
 * stdout once the backend listens. Started by bench/run.js.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { createBackend } from '@backstage/backend-defaults';
import { mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';

const target = process.env.BENCH_TARGET;
const port = Number(process.env.BENCH_PORT);
const database = process.env.BENCH_DATABASE
  ? { client: 'pg', connection: process.env.BENCH_DATABASE, prefix: process.env.BENCH_DB_PREFIX }
  : { client: 'better-sqlite3', connection: ':memory:' };

const backend = createBackend();
backend.add(
  mockServices.rootConfig.factory({
    data: {
      app: { baseUrl: 'http://localhost:3000' },
      backend: {
        baseUrl: `http://localhost:${port}`,
        listen: { port, host: '127.0.0.1' },
        database,
      },
      auth: {
        providers: { guest: { dangerouslyAllowOutsideDevelopment: true } },
        experimentalDynamicClientRegistration: { enabled: true },
        // Our limits default to human-sized budgets; a load generator on one
        // address would only measure 429s. The limiter itself still runs.
        oidcProvider: {
          rateLimits: Object.fromEntries(
            ['registration', 'token', 'deviceAuthorization', 'verification'].map(e => [
              e,
              { requests: 100_000_000 },
            ]),
          ),
        },
      },
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
backend.add(target === 'upstream' ? import('upstream-auth-backend-0-30') : import('../src'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));

backend.start().then(
  () => process.stdout.write('READY\n'),
  error => {
    process.stderr.write(`bench host failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);

/*
 * BENCH_PROFILE (set by bench/run.js): `start <file>` and `stop` on stdin
 * record a V8 CPU profile of one measured run; each is answered on stdout.
 */
if (process.env.BENCH_PROFILE) {
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<any>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  let file = '';
  createInterface({ input: process.stdin }).on('line', async line => {
    const [command, argument] = line.split(' ');
    if (command === 'start') {
      file = argument;
      await post('Profiler.enable');
      await post('Profiler.start');
    } else if (command === 'stop') {
      const { profile } = await post('Profiler.stop');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
    }
    process.stdout.write(`PROFILER ${command}\n`);
  });
}
