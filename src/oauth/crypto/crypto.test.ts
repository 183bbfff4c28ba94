import { constantEquals } from './constantEquals';
import { randomToken } from './randomToken';
import { sha256 } from './sha256';

describe('crypto helpers', () => {
  it('makes distinct url-safe tokens of 256 bits', () => {
    const a = randomToken();
    const b = randomToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('hashes to the base64url SHA-256 digest', () => {
    // RFC 7636 appendix B test vector
    expect(sha256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('compares strings for equality only', () => {
    expect(constantEquals('abc', 'abc')).toBe(true);
    expect(constantEquals('abc', 'abd')).toBe(false);
    expect(constantEquals('abc', 'abcd')).toBe(false);
    expect(constantEquals('', '')).toBe(true);
  });
});
