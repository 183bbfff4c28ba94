import { constantEquals } from './constantEquals';
import { randomToken } from './randomToken';
import { sha256 } from './sha256';

describe('crypto helpers', () => {
  it('hashes with SHA-256 in hex', () => {
    expect(sha256('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('compares strings of equal and unequal length', () => {
    expect(constantEquals('secret', 'secret')).toBe(true);
    expect(constantEquals('secret', 'secreT')).toBe(false);
    expect(constantEquals('secret', 'secret-longer')).toBe(false);
    expect(constantEquals('', '')).toBe(true);
  });

  it('generates unguessable base64url tokens', () => {
    const a = randomToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(a);
    expect(randomToken(16)).toHaveLength(22);
  });
});
