import { generateKeyPairSync } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, flattenedVerify, generateKeyPair } from 'jose';
import { SIGNING_ALGORITHMS } from '../config/readIdentityConfig';
import { detachedJwsSignature, signCompactJws } from './signJws';

describe('signCompactJws', () => {
  it.each([...SIGNING_ALGORITHMS])('signs %s tokens that jose verifies', async alg => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const payload = { sub: 'user:default/ünïcode', n: 1, list: ['a'] };
    const token = await signCompactJws({ typ: 'JWT', alg, kid: 'k1' }, payload, privateKey);

    const verified = await compactVerify(token, publicKey);
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual(payload);
    expect(Object.keys(decodeProtectedHeader(token))).toEqual(['typ', 'alg', 'kid']);

    // The detached form is the same JWS's signature, checked on its own.
    const header = { typ: 'limited', alg, kid: 'k1' };
    const signature = await detachedJwsSignature(header, payload, privateKey);
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    await expect(
      flattenedVerify({ protected: encode(header), payload: encode(payload), signature }, publicKey),
    ).resolves.toBeDefined();
    await expect(
      flattenedVerify({ protected: encode(header), payload: encode({ ...payload, n: 2 }), signature }, publicKey),
    ).rejects.toThrow('signature verification failed');
  });

  it('refuses keys that do not fit the algorithm', async () => {
    const sign = (alg: string, key: Parameters<typeof signCompactJws>[2]) =>
      signCompactJws({ alg }, { sub: 'x' }, key);
    const p384 = (await generateKeyPair('ES384')).privateKey;
    const rsa = (await generateKeyPair('RS256')).privateKey;
    const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const ecPublic = (await generateKeyPair('ES256')).publicKey;

    await expect(sign('ES256', p384)).rejects.toThrow("does not fit the JWS algorithm 'ES256'");
    await expect(sign('EdDSA', rsa)).rejects.toThrow("does not fit the JWS algorithm 'EdDSA'");
    await expect(sign('RS256', weakRsa)).rejects.toThrow("does not fit the JWS algorithm 'RS256'");
    await expect(sign('ES256', ecPublic)).rejects.toThrow("does not fit the JWS algorithm 'ES256'");
    await expect(sign('HS256', rsa)).rejects.toThrow("Unsupported JWS algorithm 'HS256'");
    await expect(sign('none', rsa)).rejects.toThrow("Unsupported JWS algorithm 'none'");
  });
});
