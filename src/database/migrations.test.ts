import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import request from 'supertest';
import authPlugin from '..';
import { createTestDatabases } from '../testUtils/databases';
import { applyDatabaseMigrations, getMigrationsDirectory } from './migrations';
import { comparableSchema, dialectOf, inspectSchema } from './testUtils/inspectSchema';
import { parseSqlReport, type SchemaShape } from './testUtils/sqlReportSchema';

jest.setTimeout(120_000);

// Upstream's report for the shared history (state still varchar(255) there).
const reference = parseSqlReport(
  fs.readFileSync(path.join(__dirname, 'testUtils', 'upstream-report.sql.md'), 'utf8'),
);
const expected: SchemaShape = {
  ...reference,
  oauth_authorization_sessions: {
    ...reference.oauth_authorization_sessions,
    columns: {
      ...reference.oauth_authorization_sessions.columns,
      // SPEC §1.10: state is text, as RFC 6749 §4.1.1 does not bound it.
      state: { type: 'text', nullable: true },
    },
  },
};

const SHARED_HISTORY = [
  '20200619125845_init.js',
  '20210326100300_timestamptz.js',
  '20220321100910_timestamptz_again.js',
  '20220522100910_key_field_size.js',
  '20230428155633_sessions.js',
  '20240510120825_user_info.js',
  '20250707164600_user_created_at.js',
  '20250909120000_oidc_client_registration.js',
  '20251118120000_oauth_state_text.js',
];

const upstreamMigrations = (alias: string) =>
  path.join(path.dirname(require.resolve(`${alias}/package.json`)), 'migrations');

const ourMigrationFiles = () =>
  fs.readdirSync(getMigrationsDirectory()).filter(f => f.endsWith('.js')).sort();

async function appliedMigrations(knex: Knex): Promise<string[]> {
  const rows: { name: string }[] = await knex('knex_migrations').select('name').orderBy('id');
  return rows.map(r => r.name);
}

function expectReferenceTables(knex: Knex, actual: SchemaShape) {
  const dialect = dialectOf(knex);
  const got = comparableSchema(dialect, actual);
  const want = comparableSchema(dialect, expected);
  for (const table of Object.keys(want)) {
    // Table by table, so a failure names the table that differs.
    expect({ table, ...got[table] }).toEqual({ table, ...want[table] });
  }
}

describe('getMigrationsDirectory', () => {
  it('finds the package migrations, starting with the shared history', () => {
    expect(ourMigrationFiles().slice(0, SHARED_HISTORY.length)).toEqual(SHARED_HISTORY);
  });

  it('reads the reference report fully', () => {
    expect(Object.keys(reference).sort()).toEqual([
      'oauth_authorization_sessions',
      'oidc_authorization_codes',
      'oidc_clients',
      'sessions',
      'signing_keys',
      'user_info',
    ]);
    expect(Object.keys(reference.oauth_authorization_sessions.columns)).toHaveLength(12);
    expect(Object.keys(reference.sessions.indices)).toHaveLength(3);
  });
});

describe('applyDatabaseMigrations', () => {
  const databases = createTestDatabases();

  describe.each(databases.eachSupportedId())('on %p', databaseId => {
    it('creates the six reference tables column by column and index by index', async () => {
      const knex = await databases.init(databaseId);
      await applyDatabaseMigrations(knex);
      expectReferenceTables(knex, await inspectSchema(knex));
      expect(await appliedMigrations(knex)).toEqual(ourMigrationFiles());

      // Running again at the next start is a no-op.
      await applyDatabaseMigrations(knex);
      expect(await appliedMigrations(knex)).toEqual(ourMigrationFiles());
    });

    it('steps every migration up, down and up again, each down restoring the schema', async () => {
      const knex = await databases.init(databaseId);
      const config = { directory: getMigrationsDirectory() };
      for (const file of ourMigrationFiles()) {
        const before = await inspectSchema(knex);
        await knex.migrate.up(config);
        const after = await inspectSchema(knex);
        expect((await appliedMigrations(knex)).at(-1)).toBe(file);

        await knex.migrate.down(config);
        expect({ file, schema: await inspectSchema(knex) }).toEqual({ file, schema: before });

        await knex.migrate.up(config);
        expect({ file, schema: await inspectSchema(knex) }).toEqual({ file, schema: after });
      }
    });

    it('records a grant for every refresh-token family and replayed code stored before grants', async () => {
      const knex = await databases.init(databaseId);
      const config = { directory: getMigrationsDirectory() };
      do {
        await knex.migrate.up(config);
      } while ((await appliedMigrations(knex)).at(-1) !== '20261220120000_oidc_sqlite_sign_in_saves.js');
      const day = 24 * 60 * 60 * 1000;
      const familyEnd = new Date('2027-06-01T00:00:00Z');
      const token = (hash: string, family: string, status: string) => ({
        token_hash: hash,
        family_id: family,
        client_id: 'cli',
        user_entity_ref: 'user:default/jane',
        status,
        auth_time: new Date('2026-12-01T00:00:00Z'),
        created_at: new Date('2026-12-01T00:00:00Z'),
        expires_at: new Date('2026-12-31T00:00:00Z'),
        family_expires_at: familyEnd,
      });
      await knex('oidc_refresh_tokens').insert([
        token('t1', 'live', 'rotated'),
        token('t2', 'live', 'active'),
        token('t3', 'reused', 'rotated'),
        token('t4', 'reused', 'revoked'),
      ]);
      const session = (id: string, status: string) => ({
        id,
        client_id: 'web',
        user_entity_ref: 'user:default/joe',
        redirect_uri: 'https://web.example.com/cb',
        response_type: 'code',
        status,
        expires_at: new Date('2026-12-07T12:10:00Z'),
      });
      await knex('oauth_authorization_sessions').insert([session('replayed', 'expired'), session('fine', 'approved')]);

      await knex.migrate.up(config);
      const grants = await knex('oidc_grants').select().orderBy('id');
      const at = (value: unknown) => new Date(value as string).getTime();
      expect(
        grants.map(g => ({
          id: g.id,
          client: g.client_id,
          user: g.user_entity_ref,
          revoked: g.revoked_at !== null,
          expiresAt: at(g.expires_at),
        })),
      ).toEqual([
        { id: 'live', client: 'cli', user: 'user:default/jane', revoked: false, expiresAt: familyEnd.getTime() + day },
        { id: 'replayed', client: 'web', user: 'user:default/joe', revoked: true, expiresAt: at('2026-12-07T12:10:00Z') + day },
        { id: 'reused', client: 'cli', user: 'user:default/jane', revoked: true, expiresAt: familyEnd.getTime() + day },
      ]);
    });

    it('adopts a database migrated by upstream 0.26.0 with its rows intact', async () => {
      const knex = await databases.init(databaseId);
      await knex.migrate.latest({ directory: upstreamMigrations('upstream-auth-backend-0-26') });
      // A serialized key is longer than 255 characters, which only fits
      // because upstream widened the column; adoption must keep it whole.
      const key = JSON.stringify({ kty: 'EC', crv: 'P-256', kid: 'k1', x: 'x'.repeat(200), y: 'y'.repeat(200) });
      await knex('signing_keys').insert({ kid: 'k1', key });
      await knex('user_info').insert({
        user_entity_ref: 'user:default/guest',
        user_info: JSON.stringify({ claims: { sub: 'user:default/guest', ent: ['group:default/a'] } }),
        updated_at: new Date('2025-10-01T12:00:00Z'),
      });
      await knex('oidc_clients').insert({
        client_id: 'c1',
        client_secret: 'hashed-secret',
        client_name: 'Client One',
        response_types: '["code"]',
        grant_types: '["authorization_code","refresh_token"]',
        redirect_uris: '["https://app.example.com/cb"]',
        scope: 'openid offline_access',
        metadata: '{"token_endpoint_auth_method":"client_secret_basic"}',
      });
      const rowsBefore = await readRows(knex);

      await applyDatabaseMigrations(knex);

      expect(await readRows(knex)).toEqual(rowsBefore);
      const applied = await appliedMigrations(knex);
      expect(applied.slice(0, SHARED_HISTORY.length)).toEqual(SHARED_HISTORY);
      expect(applied.sort()).toEqual(ourMigrationFiles());
      expectReferenceTables(knex, await inspectSchema(knex));
      await expectPluginServes(knex);
    });

    it('starts on a database migrated by upstream 0.30.1, which has migrations we do not ship', async () => {
      const knex = await databases.init(databaseId);
      await knex.migrate.latest({ directory: upstreamMigrations('upstream-auth-backend-0-30') });
      const upstreamOnly = (await appliedMigrations(knex)).filter(f => !ourMigrationFiles().includes(f));
      expect(upstreamOnly).toContain('20251020000000_offline_sessions.js');

      await applyDatabaseMigrations(knex);

      const applied = await appliedMigrations(knex);
      expect(applied).toEqual(expect.arrayContaining([...ourMigrationFiles(), ...upstreamOnly]));
      expect(new Set(applied).size).toBe(applied.length);

      await expectPluginServes(knex);
    });

    it('takes over a database migrated by upstream 0.31.0, which dropped oidc_clients', async () => {
      const knex = await databases.init(databaseId);
      await knex.migrate.latest({ directory: upstreamMigrations('upstream-auth-backend-0-31') });
      expect(await knex.schema.hasTable('oidc_clients')).toBe(false);
      expect(await appliedMigrations(knex)).toContain('20261030120000_remove_dcr.js');

      await applyDatabaseMigrations(knex);

      expectReferenceTables(knex, await inspectSchema(knex));
      const applied = await appliedMigrations(knex);
      expect(applied).toEqual(expect.arrayContaining(ourMigrationFiles()));
      expect(new Set(applied).size).toBe(applied.length);
      // Stepping that migration down gives upstream's database back, without the table.
      await knex.migrate.down({
        directory: getMigrationsDirectory(),
        disableMigrationsListValidation: true,
        name: '20261201120000_oidc_clients_after_remove_dcr.js',
      });
      expect(await knex.schema.hasTable('oidc_clients')).toBe(false);
      await applyDatabaseMigrations(knex);
      await expectPluginServes(knex);
    });
  });
});

/** Starts the plugin on the database (migrating it again) and reads the JWKS. */
async function expectPluginServes(knex: Knex) {
  const { server } = await startTestBackend({
    features: [
      authPlugin,
      mockServices.database.factory({ knex }),
      mockServices.rootConfig.factory({ data: { app: { baseUrl: 'http://localhost:3000' } } }),
    ],
  });
  const res = await request(server).get('/api/auth/.well-known/jwks.json');
  expect(res.status).toBe(200);
  expect(Array.isArray(res.body.keys)).toBe(true);
}

async function readRows(knex: Knex) {
  return {
    signingKeys: await knex('signing_keys').select('kid', 'key', 'created_at').orderBy('kid'),
    userInfo: await knex('user_info').select().orderBy('user_entity_ref'),
    clients: await knex('oidc_clients').select().orderBy('client_id'),
  };
}
