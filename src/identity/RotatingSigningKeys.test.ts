import { mockServices } from '@backstage/backend-test-utils';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import type { Knex } from 'knex';
import { DbSigningKeyStore } from '../database/DbSigningKeyStore';
import { applyDatabaseMigrations } from '../database/migrations';
import { createTestDatabases } from '../testUtils/databases';
import { MemoryKeyStore } from './MemoryKeyStore';
import { keepKeysAhead, RotatingSigningKeys } from './RotatingSigningKeys';

jest.setTimeout(60_000);

const databases = createTestDatabases();
const HOUR = 3600;

describe.each(databases.eachSupportedId())('RotatingSigningKeys on %s', databaseId => {
  let knex: Knex;
  let nowMs: number;

  beforeEach(async () => {
    knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    nowMs = Date.now();
  });

  function instance() {
    return RotatingSigningKeys.create({
      store: DbSigningKeyStore.create({ knex }),
      algorithm: 'ES256',
      rotationSeconds: HOUR,
      maxTokenLifetimeSeconds: 24 * HOUR,
      logger: mockServices.logger.mock(),
      now: () => nowMs,
    });
  }

  async function sign(keys: RotatingSigningKeys) {
    const key = await keys.currentKey();
    return new SignJWT({ sub: 'user:default/a' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuedAt(Math.floor(nowMs / 1000))
      .setExpirationTime(Math.floor(nowMs / 1000) + HOUR)
      .sign(key.privateKey);
  }

  it('rotates a key nobody used before rotation to a successor published minutes ahead (issue 26)', async () => {
    const quiet = instance();
    const first = await quiet.currentKey();
    const stop = keepKeysAhead([quiet], 20);
    try {
      // Nothing signs in the minutes before rotation; only the timer asks.
      nowMs += HOUR * 1000 - 4 * 60 * 1000;
      const listed = async () => (await quiet.listPublicKeys()).map(k => k.kid);
      for (let i = 0; i < 100 && (await listed()).length < 2; i++) await new Promise(r => setTimeout(r, 20));
      const publishedBeforeRotation = await listed();
      nowMs += 5 * 60 * 1000;
      const next = await quiet.currentKey();
      expect(next.kid).not.toBe(first.kid);
      expect(publishedBeforeRotation).toEqual(expect.arrayContaining([first.kid, next.kid]));
    } finally {
      stop();
    }
  });

  it('rotates after the interval and keeps verifying tokens of the previous key', async () => {
    const keys = instance();
    const first = await keys.currentKey();
    nowMs += HOUR * 1000 - 4 * 60 * 1000;
    // Within five minutes of rotation the next key is published but does not sign yet.
    expect((await keys.currentKey()).kid).toBe(first.kid);
    const listedEarly = (await keys.listPublicKeys()).map(k => k.kid);
    expect(listedEarly).toHaveLength(2);
    nowMs += 4 * 60 * 1000 - 1000;
    // The last token the first key signs, a second before rotation.
    const token = await sign(keys);
    expect((await keys.currentKey()).kid).toBe(first.kid);
    nowMs += 1000;
    const second = await keys.currentKey();
    expect(second.kid).not.toBe(first.kid);
    expect(listedEarly).toContain(second.kid);

    const jwks = createLocalJWKSet({ keys: await keys.listPublicKeys() });
    await expect(jwtVerify(token, jwks, { currentDate: new Date(nowMs) })).resolves.toBeDefined();
    expect((await keys.listPublicKeys()).map(k => k.kid).sort()).toEqual([first.kid, second.kid].sort());
  });

  it('never signs with a key whose listing ends before its tokens do, after a quiet spell', async () => {
    // Keys stored by our clock, so the listing window follows the test's time.
    const keys = RotatingSigningKeys.create({
      store: MemoryKeyStore.create({ now: () => nowMs }),
      algorithm: 'ES256',
      rotationSeconds: HOUR,
      maxTokenLifetimeSeconds: HOUR,
      logger: mockServices.logger.mock(),
      now: () => nowMs,
    });
    const first = await keys.currentKey();
    nowMs += HOUR * 1000 - 4 * 60 * 1000;
    await keys.currentKey(); // pre-publishes the next key ...
    expect(await keys.listPublicKeys()).toHaveLength(2); // ... stored now
    // Nobody asks for a key for a long while after rotation time.
    for (const step of [3 * HOUR, 10 * 60, 50 * 60, 59 * 60]) {
      nowMs += step * 1000;
      const key = await keys.currentKey();
      expect(key.kid).not.toBe(first.kid);
      const token = await sign(keys);
      // The token must verify with the JWKS until it expires.
      nowMs += HOUR * 1000 - 1000;
      const jwks = createLocalJWKSet({ keys: await keys.listPublicKeys() });
      await expect(jwtVerify(token, jwks, { currentDate: new Date(nowMs) })).resolves.toBeDefined();
      nowMs -= HOUR * 1000 - 1000;
    }
  });

  it('shares one key among concurrent first callers', async () => {
    const keys = instance();
    const kids = await Promise.all([1, 2, 3].map(async () => (await keys.currentKey()).kid));
    expect(new Set(kids).size).toBe(1);
    expect(await knex('signing_keys').count({ n: '*' }).then(r => Number(r[0].n))).toBe(1);
  });

  it('lists keys of other instances and drops a key once no token of it can be valid', async () => {
    const a = instance();
    const b = instance();
    const kidA = (await a.currentKey()).kid;
    const kidB = (await b.currentKey()).kid;
    expect((await b.listPublicKeys()).map(k => k.kid).sort()).toEqual([kidA, kidB].sort());

    // Still listed until rotation + longest lifetime (+ pre-publication and skew) has passed ...
    nowMs += (HOUR + 24 * HOUR + 5 * 60) * 1000;
    expect((await b.listPublicKeys()).map(k => k.kid)).toContain(kidA);
    // ... and gone, from the listing and the table, after it.
    nowMs += 10 * 60 * 1000;
    expect(await b.listPublicKeys()).toEqual([]);
    for (let i = 0; i < 50 && Number((await knex('signing_keys').count({ n: '*' }))[0].n) > 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    expect(Number((await knex('signing_keys').count({ n: '*' }))[0].n)).toBe(0);
  });
});
