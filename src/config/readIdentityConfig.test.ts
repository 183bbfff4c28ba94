import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { readIdentityConfig } from './readIdentityConfig';

const read = (auth: JsonObject = {}) => readIdentityConfig(new ConfigReader({ auth }));

describe('readIdentityConfig', () => {
  it('defaults to ES256, 1 h tokens, no ent claim and the database key store', () => {
    expect(read()).toEqual({
      tokenLifetimeSeconds: 3600,
      algorithm: 'ES256',
      omitOwnershipClaim: true,
      keyStore: { provider: 'database' },
    });
  });

  it('clamps backstageTokenExpiration to [10 min, 24 h]', () => {
    expect(read({ backstageTokenExpiration: { minutes: 1 } }).tokenLifetimeSeconds).toBe(600);
    expect(read({ backstageTokenExpiration: { days: 3 } }).tokenLifetimeSeconds).toBe(86400);
    expect(read({ backstageTokenExpiration: '2h' }).tokenLifetimeSeconds).toBe(7200);
  });

  it('reads the algorithm, the ownership claim switch and the static keys', () => {
    const config = read({
      identityTokenAlgorithm: 'RS256',
      omitIdentityTokenOwnershipClaim: false,
      keyStore: {
        provider: 'static',
        static: {
          keys: [
            { publicKeyFile: 'a.pub', privateKeyFile: 'a.key', keyId: 'a' },
            { publicKeyFile: 'b.pub', privateKeyFile: 'b.key', keyId: 'b', algorithm: 'EdDSA' },
          ],
        },
      },
    });
    expect(config.algorithm).toBe('RS256');
    expect(config.omitOwnershipClaim).toBe(false);
    expect(config.keyStore).toEqual({
      provider: 'static',
      keys: [
        { publicKeyFile: 'a.pub', privateKeyFile: 'a.key', keyId: 'a', algorithm: 'ES256' },
        { publicKeyFile: 'b.pub', privateKeyFile: 'b.key', keyId: 'b', algorithm: 'EdDSA' },
      ],
    });
  });

  it.each([
    [{ identityTokenAlgorithm: 'HS256' }, /^auth\.identityTokenAlgorithm: 'HS256' is not supported/],
    [{ identityTokenAlgorithm: 7 }, /^auth\.identityTokenAlgorithm/],
    [{ backstageTokenExpiration: 'soon' }, /^auth\.backstageTokenExpiration: /],
    [{ omitIdentityTokenOwnershipClaim: 'maybe' }, /auth\.omitIdentityTokenOwnershipClaim/],
    [{ keyStore: { provider: 'firestore' } }, /^auth\.keyStore\.provider: 'firestore' is not supported/],
    [{ keyStore: { provider: 'static' } }, /^auth\.keyStore\.static\.keys: at least one/],
    [
      { keyStore: { provider: 'static', static: { keys: [{ publicKeyFile: 'a', privateKeyFile: 'b' }] } } },
      /auth\.keyStore\.static\.keys\[0\]\.keyId/,
    ],
    [
      {
        keyStore: {
          provider: 'static',
          static: { keys: [{ publicKeyFile: 'a', privateKeyFile: 'b', keyId: 'k', algorithm: 'none' }] },
        },
      },
      /^auth\.keyStore\.static\.keys\[0\]\.algorithm: 'none' is not supported/,
    ],
    [
      {
        keyStore: {
          provider: 'static',
          static: { keys: [{ publicKeyFile: 'a', privateKeyFile: 'b', keyId: 'oauth-client:k' }] },
        },
      },
      /^auth\.keyStore\.static\.keys\[0\]\.keyId: 'oauth-client:k' is reserved/,
    ],
  ])('rejects %j naming the key', (auth, message) => {
    expect(() => read(auth as JsonObject)).toThrow(message);
  });
});
