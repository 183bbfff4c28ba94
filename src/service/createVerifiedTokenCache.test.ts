import { createVerifiedTokenCache } from './createVerifiedTokenCache';

/** A token-shaped string; the cache only decodes, the framework (here `verify`) verifies. */
function token(typ: string, payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ typ, alg: 'ES256', kid: 'k' })}.${part(payload)}.c2ln`;
}

describe('createVerifiedTokenCache', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const exp = now / 1000 + 3600;
  const sub = 'user:default/ann';
  const ann = token('vnd.backstage.user', { sub, exp });
  const verifiedAsAnn = jest.fn(async () => ({ userEntityRef: sub, expiresAt: new Date(exp * 1000) }));

  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
    verifiedAsAnn.mockClear();
  });

  it('asks the framework once per token, until the token expires', async () => {
    const verified = createVerifiedTokenCache({ now: () => now });
    expect(await verified(ann, verifiedAsAnn)).toBe(sub);
    expect(await verified(ann, verifiedAsAnn)).toBe(sub);
    expect(verifiedAsAnn).toHaveBeenCalledTimes(1);
    now = exp * 1000;
    expect(await verified(ann, verifiedAsAnn)).toBe(sub);
    expect(verifiedAsAnn).toHaveBeenCalledTimes(2);
  });

  it('never remembers a refusal', async () => {
    const verified = createVerifiedTokenCache({ now: () => now });
    const refuse = jest.fn(async () => {
      throw Object.assign(new Error('bad'), { name: 'AuthenticationError' });
    });
    await expect(verified(ann, refuse)).rejects.toThrow('bad');
    await expect(verified(ann, refuse)).rejects.toThrow('bad');
    expect(refuse).toHaveBeenCalledTimes(2);
  });

  it('leaves tokens other than Backstage user tokens to the framework every time', async () => {
    const verified = createVerifiedTokenCache({ now: () => now });
    const service = token('vnd.backstage.plugin', { sub: 'plugin:catalog', exp });
    const asService = jest.fn(async () => ({ userEntityRef: sub, expiresAt: new Date(exp * 1000) }));
    await verified(service, asService);
    await verified(service, asService);
    await verified('', asService);
    await verified('not-a-jwt', asService);
    await verified('not-a-jwt', asService);
    expect(asService).toHaveBeenCalledTimes(5);
  });

  it('remembers nothing when the framework verified another token than this one', async () => {
    const verified = createVerifiedTokenCache({ now: () => now });
    // e.g. it took a cookie: another user, or the same user with another expiry.
    const asBob = jest.fn(async () => ({ userEntityRef: 'user:default/bob', expiresAt: new Date(exp * 1000) }));
    const asAnnLater = jest.fn(async () => ({ userEntityRef: sub, expiresAt: new Date((exp + 1) * 1000) }));
    expect(await verified(ann, asBob)).toBe('user:default/bob');
    expect(await verified(ann, asAnnLater)).toBe(sub);
    expect(await verified(ann, verifiedAsAnn)).toBe(sub);
    expect(await verified(ann, verifiedAsAnn)).toBe(sub);
    expect(verifiedAsAnn).toHaveBeenCalledTimes(1);
  });
});
