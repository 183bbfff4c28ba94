import type { Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { DbSigningKeyStore } from './DbSigningKeyStore';
import { applyDatabaseMigrations } from './migrations';

jest.setTimeout(60_000);
const databases = createTestDatabases();

const jwk = (kid: string, x: string) => ({ kty: 'EC', crv: 'P-256', x, y: 'y', kid, alg: 'ES256', use: 'sig' });

/** The statements `knex` sends while `run` runs. */
async function statementsOf<T>(knex: Knex, run: () => Promise<T>): Promise<{ result: T; sql: string[] }> {
  const sql: string[] = [];
  const listener = (query: { sql: string }) => sql.push(query.sql);
  knex.on('query', listener);
  try {
    return { result: await run(), sql };
  } finally {
    knex.off('query', listener);
  }
}

describe.each(databases.eachSupportedId())('signing keys in the database on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    return { knex, mine: DbSigningKeyStore.create({ knex }), theirs: DbSigningKeyStore.create({ knex }) };
  }

  it('lists every instance’s keys in one statement per listing, each listing read after it was asked for', async () => {
    const { knex, mine, theirs } = await setup();
    await mine.addKey(jwk('a', 'xa'));
    const first = await statementsOf(knex, () => mine.listKeys());
    expect(first.result.map(k => k.key)).toEqual([jwk('a', 'xa')]);
    expect(first.sql).toHaveLength(1);
    expect(first.result[0].createdAt.getTime()).toBeGreaterThan(Date.now() - 5 * 60_000);

    // Another instance publishes a key: this instance's next listing has it.
    await theirs.addKey(jwk('b', 'xb'));
    const second = await statementsOf(knex, () => mine.listKeys());
    expect(second.result.map(k => k.key.kid).sort()).toEqual(['a', 'b']);
    expect(second.sql).toHaveLength(1);

    await theirs.removeKeys(['a']);
    expect((await mine.listKeys()).map(k => k.key.kid)).toEqual(['b']);
  });

  it('reads a row again when it changed under the same kid, though it parses an unchanged one once', async () => {
    const { knex, mine } = await setup();
    await mine.addKey(jwk('a', 'xa'));
    const [before] = await mine.listKeys();
    // Unchanged: the same parsed key, not a new parse of the same text.
    expect((await mine.listKeys())[0]).toBe(before);

    await knex('signing_keys').where({ kid: 'a' }).update({ key: JSON.stringify(jwk('a', 'changed')) });
    const [after] = await mine.listKeys();
    expect(after.key.x).toBe('changed');
    expect(after).not.toBe(before);

    await knex('signing_keys').where({ kid: 'a' }).update({ created_at: new Date('2026-01-02T03:04:05Z') });
    const [moved] = await mine.listKeys();
    expect(moved.createdAt.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(moved.key.x).toBe('changed');
  });
});
