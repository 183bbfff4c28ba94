import { randomBytes, scryptSync } from 'node:crypto';
import { upstreamRefreshTokenId, verifyUpstreamRefreshToken } from './upstreamRefreshToken';

/** A token and hash in upstream 0.31's stored format (the e2e adoption test uses upstream's own). */
function upstreamPair() {
  const id = '6f1c2e4a-1b2c-4d5e-8f90-123456789abc';
  const token = `${id}.${randomBytes(32).toString('base64url')}`;
  const salt = randomBytes(16);
  const hash = scryptSync(token, salt, 64, { N: 16384, r: 8, p: 1 });
  return { id, token, stored: `${salt.toString('base64')}.${hash.toString('base64')}` };
}

describe('upstream refresh tokens', () => {
  it('reads the session id of a token in upstream format only', () => {
    const { id, token } = upstreamPair();
    expect(upstreamRefreshTokenId(token)).toBe(id);
    for (const other of ['', 'abc', `${id}.`, `${id}.short`, `${id}.${'a'.repeat(43)}.x`, 'a'.repeat(43)]) {
      expect(upstreamRefreshTokenId(other)).toBeUndefined();
    }
  });

  it('verifies a token against its scrypt hash, and nothing else', async () => {
    const { token, stored } = upstreamPair();
    await expect(verifyUpstreamRefreshToken(token, stored)).resolves.toBe(true);
    // One character changed (never to itself: a token ending in 'A' made this flaky).
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    await expect(verifyUpstreamRefreshToken(`${token.slice(0, -1)}${last}`, stored)).resolves.toBe(false);
    for (const broken of ['', 'x', `${stored}.x`, `${stored.split('.')[0]}.AAAA`]) {
      await expect(verifyUpstreamRefreshToken(token, broken)).resolves.toBe(false);
    }
  });
});
