import { createTestDatabases } from '../testUtils/databases';
import { DbUserInfoStore } from './DbUserInfoStore';
import { applyDatabaseMigrations } from './migrations';
import { parseDbDate } from './parseDbDate';

jest.setTimeout(60_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('user info on %p', databaseId => {
  let now = new Date('2026-11-23T12:00:00Z');

  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    const store = DbUserInfoStore.create({ knex, clock: () => now });
    const row = async () => {
      const r = await knex('user_info').where({ user_entity_ref: 'user:default/ann' }).first();
      return { ...r, updated_at: parseDbDate(r.updated_at), created_at: parseDbDate(r.created_at) };
    };
    return { knex, store, row };
  }

  beforeEach(() => {
    now = new Date('2026-11-23T12:00:00Z');
  });

  it('saves the claims of the latest sign-in and keeps the first sign-in time', async () => {
    const { store, row } = await setup();
    await store.saveUserInfo({ sub: 'user:default/ann', ent: ['user:default/ann'] });
    const first = await row();
    now = new Date(now.getTime() + 60_000);
    await store.saveUserInfo({ sub: 'user:default/ann', ent: ['user:default/ann', 'group:default/team'] });
    expect(await store.getUserInfo('user:default/ann')).toEqual({
      claims: { sub: 'user:default/ann', ent: ['user:default/ann', 'group:default/team'] },
    });
    const second = await row();
    expect(second.updated_at).toEqual(now);
    expect(second.created_at).toEqual(first.created_at);
  });

  it('leaves the row alone when the claims did not change (issue 15: no write on a path where nothing changed)', async () => {
    const { store, row } = await setup();
    const claims = { sub: 'user:default/ann', ent: ['user:default/ann'], custom: 'x' };
    await store.saveUserInfo(claims);
    const saved = now;
    now = new Date(saved.getTime() + 59 * 60_000);
    await store.saveUserInfo({ ...claims });
    expect((await row()).updated_at).toEqual(saved);
    // After an hour the same claims are written again, so updated_at stays
    // within an hour of the last sign-in.
    now = new Date(saved.getTime() + 61 * 60_000);
    await store.saveUserInfo({ ...claims });
    expect((await row()).updated_at).toEqual(now);
    expect(await store.getUserInfo('user:default/ann')).toEqual({ claims });
  });

  it('records the sign-in with the claims, by the same rules for the claims (one statement on PostgreSQL and SQLite)', async () => {
    const { store, row, knex } = await setup();
    const signIn = (authTime: Date) => ({
      userEntityRef: 'user:default/ann',
      providerId: 'guest',
      authTime,
      acr: 'urn:example:mfa',
      amr: ['pwd', 'otp'],
    });
    const signedIn = async () => {
      const r = await knex('oidc_user_sign_ins').where({ user_entity_ref: 'user:default/ann' }).first();
      return { ...r, auth_time: parseDbDate(r.auth_time) };
    };
    const claims = { sub: 'user:default/ann', ent: ['user:default/ann'] };
    const statements: string[] = [];
    const count = (query: { sql: string }) => statements.push(query.sql);
    knex.on('query', count);
    try {
      await store.saveUserInfo(claims, signIn(now));
    } finally {
      knex.off('query', count);
    }
    expect(statements).toHaveLength(databaseId.startsWith('MYSQL') ? 2 : 1);
    const saved = now;
    expect(await store.getUserInfo('user:default/ann')).toEqual({ claims });
    expect(await signedIn()).toMatchObject({ provider_id: 'guest', auth_time: saved, acr: 'urn:example:mfa', amr: '["pwd","otp"]' });

    // Same claims within the hour: the sign-in moves, the claims' row does not.
    now = new Date(saved.getTime() + 30 * 60_000);
    await store.saveUserInfo({ ...claims }, { ...signIn(now), acr: undefined, amr: undefined });
    expect((await row()).updated_at).toEqual(saved);
    expect(await signedIn()).toMatchObject({ auth_time: now, acr: null, amr: null });

    // Changed claims are written at once.
    now = new Date(saved.getTime() + 31 * 60_000);
    const changed = { ...claims, ent: ['user:default/ann', 'group:default/team'] };
    await store.saveUserInfo(changed, signIn(now));
    expect((await row()).updated_at).toEqual(now);
    expect(await store.getUserInfo('user:default/ann')).toEqual({ claims: changed });
    expect(await signedIn()).toMatchObject({ auth_time: now });
  });

  it('stores one row per user when first sign-ins race', async () => {
    const { store, knex } = await setup();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.saveUserInfo({ sub: `user:default/u${i % 3}`, n: i })),
    );
    expect(Number((await knex('user_info').count({ n: '*' }))[0].n)).toBe(3);
  });
});
