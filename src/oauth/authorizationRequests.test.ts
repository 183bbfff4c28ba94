import { randomBytes } from 'node:crypto';
import { anAuthorizationRequest } from '../testUtils/authorizationRequests';
import { createAuthorizationRequestHandles, requestIdOf } from './authorizationRequests';
import type { SecretKey } from './crypto/secretKeys';

/** A key source like the database's: newest first; `fresh` reads what was added since. */
function keySource(initial: SecretKey[]) {
  const stored = [...initial];
  let cached = [...stored];
  let reads = 0;
  return {
    add: (key: SecretKey) => stored.unshift(key),
    reads: () => reads,
    async secretKeys(options: { fresh?: boolean } = {}) {
      if (options.fresh) {
        reads++;
        cached = [...stored];
      }
      return cached;
    },
  };
}

describe('authorization request handles', () => {
  const v1 = { version: 'v1', secret: randomBytes(32) };
  const { id: _, ...request } = anAuthorizationRequest({
    resource: 'https://mcp.example.com/mcp',
    state: 's'.repeat(4096),
    nonce: 'n-1',
    requirements: { requestedAt: new Date('2030-01-01T00:00:00Z'), promptLogin: true, maxAgeSeconds: 0, acrValues: ['a', 'b'] },
  });

  it('carries every part of a request to another instance sharing the keys', async () => {
    const handle = await createAuthorizationRequestHandles(keySource([v1])).seal(request);
    expect(handle).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    // Nothing of the request can be read from the handle.
    expect(handle).not.toContain('s'.repeat(16));
    expect(handle).not.toContain(Buffer.from('s'.repeat(48)).toString('base64url'));
    expect(await createAuthorizationRequestHandles(keySource([v1])).open(handle)).toEqual({
      id: requestIdOf(handle),
      ...request,
    });
    const { id: __, ...bare } = anAuthorizationRequest();
    const other = createAuthorizationRequestHandles(keySource([v1]));
    const again = await other.seal(bare);
    expect(await other.open(again)).toEqual({ id: requestIdOf(again), ...bare });
    // Sealed twice, the same request is two requests, decided apart.
    expect(requestIdOf(await other.seal(bare))).not.toBe(requestIdOf(again));
  });

  it('opens no handle it did not seal: another deployment, altered, or junk', async () => {
    const handles = createAuthorizationRequestHandles(keySource([v1]));
    const foreign = await createAuthorizationRequestHandles(keySource([{ version: 'v1', secret: randomBytes(32) }])).seal(
      request,
    );
    expect(await handles.open(foreign)).toBeUndefined();
    const handle = await handles.seal(request);
    expect(await handles.open(`${handle.slice(0, -1)}${handle.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    for (const junk of ['', 'session-1', '3f8a8c2e-3c1e-4a7e-9d35-6f0f4d1b2c77', 'v1.', 'v9.abc']) {
      expect(await handles.open(junk)).toBeUndefined();
    }
  });

  it('learns a key another instance started sealing with, without reading keys for every unknown version', async () => {
    const source = keySource([v1]);
    let now = 1_000_000;
    const handles = createAuthorizationRequestHandles(source, () => now);
    const writer = keySource([v1]);
    const v2 = { version: 'v2', secret: randomBytes(32) };
    writer.add(v2);
    await writer.secretKeys({ fresh: true });
    const handle = await createAuthorizationRequestHandles(writer).seal(request);
    expect(handle.startsWith('v2.')).toBe(true);
    source.add(v2);
    expect(await handles.open(handle)).toMatchObject(request);
    // Unknown versions cost at most one more read a second.
    const before = source.reads();
    await Promise.all(['v7', 'v8', 'v9'].map(v => handles.open(`${v}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)));
    expect(source.reads() - before).toBe(0);
    now += 1000;
    await Promise.all(['v7', 'v8', 'v9'].map(v => handles.open(`${v}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)));
    expect(source.reads() - before).toBe(1);
  });
});
