import { mockServices } from '@backstage/backend-test-utils';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { limitedTokenFrom, tamperedPayload } from '../e2e/fixtures/limitedTokenFrom';
import { BackstageTokenIssuer } from './BackstageTokenIssuer';
import { listPublishedKeys } from './listPublishedKeys';
import { MemoryKeyStore } from './MemoryKeyStore';
import { RotatingSigningKeys } from './RotatingSigningKeys';

const ISSUER = 'http://localhost:7007/api/auth';

function setup(algorithm: string, omitOwnershipClaim = true) {
  const keys = RotatingSigningKeys.create({
    store: MemoryKeyStore.create(),
    algorithm,
    rotationSeconds: 3600,
    maxTokenLifetimeSeconds: 86400,
    logger: mockServices.logger.mock(),
  });
  const issuer = BackstageTokenIssuer.create({
    keys,
    issuer: ISSUER,
    lifetimeSeconds: 3600,
    omitOwnershipClaim,
  });
  const jwks = async () => createLocalJWKSet({ keys: await keys.listPublicKeys() });
  return { keys, issuer, jwks };
}

describe('BackstageTokenIssuer', () => {
  it.each(['ES256', 'RS256', 'EdDSA'])(
    'issues a %s user token whose uip rebuilds a valid limited token',
    async alg => {
      const { issuer, jwks } = setup(alg);
      const { token, expiresInSeconds } = await issuer.issueUserToken({
        sub: 'user:default/alice',
        ent: ['user:default/alice', 'group:default/team'],
        custom: 'x',
      });
      expect(expiresInSeconds).toBe(3600);
      const header = decodeProtectedHeader(token);
      expect(Object.keys(header)).toEqual(['typ', 'alg', 'kid']);
      expect(header).toMatchObject({ typ: 'vnd.backstage.user', alg });

      const { payload } = await jwtVerify(token, await jwks(), {
        issuer: ISSUER,
        audience: 'backstage',
        typ: 'vnd.backstage.user',
      });
      expect(payload).toEqual({
        custom: 'x',
        iss: ISSUER,
        sub: 'user:default/alice',
        aud: 'backstage',
        iat: expect.any(Number),
        exp: payload.iat! + 3600,
        uip: expect.any(String),
      });
      expect(payload.ent).toBeUndefined();

      const limited = await jwtVerify(limitedTokenFrom(token), await jwks(), {
        typ: 'vnd.backstage.limited-user',
      });
      expect(limited.payload).toEqual({ sub: 'user:default/alice', iat: payload.iat, exp: payload.exp });
    },
  );

  it('keeps ent when omitIdentityTokenOwnershipClaim is false', async () => {
    const { issuer, jwks } = setup('ES256', false);
    const { token } = await issuer.issueUserToken({ sub: 'user:default/a', ent: ['group:default/g'] });
    const { payload } = await jwtVerify(token, await jwks());
    expect(payload.ent).toEqual(['group:default/g']);
  });

  it("signs an OAuth client's token, and the limited token rebuilt from it, under the key's second id", async () => {
    const { keys, issuer, jwks } = setup('ES256');
    const { token } = await issuer.issueUserToken({ sub: 'user:default/alice' }, { forOAuthClient: true });
    const { kid } = await keys.currentKey();
    expect(decodeProtectedHeader(token).kid).toBe(`oauth-client:${kid}`);
    expect(decodeProtectedHeader(limitedTokenFrom(token)).kid).toBe(`oauth-client:${kid}`);
    // The store's keys alone do not verify it; the published list does.
    await expect(jwtVerify(token, await jwks())).rejects.toThrow(/no applicable key/i);
    const published = createLocalJWKSet({ keys: await listPublishedKeys(keys) });
    await expect(jwtVerify(token, published, { typ: 'vnd.backstage.user' })).resolves.toBeDefined();
    await expect(jwtVerify(limitedTokenFrom(token), published, { typ: 'vnd.backstage.limited-user' })).resolves.toBeDefined();
  });

  it('refuses a sub that is not an entity ref and tokens over 32768 characters', async () => {
    const { issuer } = setup('ES256', false);
    await expect(issuer.issueUserToken({ sub: '' })).rejects.toThrow(/not an entity ref/);
    const ent = Array.from({ length: 2000 }, (_, i) => `group:default/team-number-${i}`);
    await expect(issuer.issueUserToken({ sub: 'user:default/a', ent })).rejects.toThrow(/32768/);
  });

  it('signs other JWTs with typ in the header and iss/iat/exp set', async () => {
    const { issuer, jwks } = setup('ES256');
    const jwt = await issuer.signJwt({ sub: 'user:default/a', iss: 'spoofed' }, { typ: 'JWT', expiresInSeconds: 300 });
    const { payload, protectedHeader } = await jwtVerify(jwt, await jwks(), { issuer: ISSUER });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload.exp! - payload.iat!).toBe(300);
    // Nothing may outlive a user token: key retention is sized by that lifetime.
    await expect(issuer.signJwt({}, { typ: 'JWT', expiresInSeconds: 3601 })).rejects.toThrow(/lifetime/);
  });

  it('refuses a tampered payload and an unknown kid', async () => {
    const { issuer, jwks } = setup('ES256');
    const { token } = await issuer.issueUserToken({ sub: 'user:default/alice' });
    const tampered = tamperedPayload(token, claims => ({ ...claims, sub: 'user:default/admin' }));
    await expect(jwtVerify(tampered, await jwks())).rejects.toThrow(/signature/);
    const other = setup('ES256');
    await expect(jwtVerify(token, await other.jwks())).rejects.toThrow(/no applicable key/i);
  });
});
