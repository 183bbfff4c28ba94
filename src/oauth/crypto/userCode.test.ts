import { randomBytes } from 'node:crypto';
import { hmacUserCode } from './hmacUserCode';
import {
  formatUserCode,
  generateUserCode,
  normalizeUserCode,
  USER_CODE_ALPHABET,
} from './userCode';

describe('user codes', () => {
  it('generates 8 characters from the consonant alphabet', () => {
    for (let i = 0; i < 200; i++) {
      expect(generateUserCode()).toMatch(new RegExp(`^[${USER_CODE_ALPHABET}]{8}$`));
    }
  });

  it('shows codes as XXXX-XXXX', () => {
    expect(formatUserCode('BCDFGHJK')).toBe('BCDF-GHJK');
  });

  it('accepts codes in any case, with or without dashes and spaces', () => {
    expect(normalizeUserCode('bcdf-ghjk')).toBe('BCDFGHJK');
    expect(normalizeUserCode(' BcDf GhJk ')).toBe('BCDFGHJK');
    expect(normalizeUserCode('BCDFGHJK')).toBe('BCDFGHJK');
  });

  it('refuses anything that cannot be a user code', () => {
    expect(normalizeUserCode('BCDF-GHJ')).toBeUndefined();
    expect(normalizeUserCode('BCDF-GHJKL')).toBeUndefined();
    expect(normalizeUserCode('ABCD-EFGH')).toBeUndefined(); // vowels are never issued
    expect(normalizeUserCode('BCDF-GHJ1')).toBeUndefined();
    expect(normalizeUserCode('B'.repeat(1000))).toBeUndefined();
  });

  it('hashes with the key, so another key gives another hash', () => {
    const k1 = { version: 'a', secret: randomBytes(32) };
    const k2 = { version: 'b', secret: randomBytes(32) };
    expect(hmacUserCode('BCDFGHJK', k1)).toBe(hmacUserCode('BCDFGHJK', k1));
    expect(hmacUserCode('BCDFGHJK', k1)).not.toBe(hmacUserCode('BCDFGHJK', k2));
    expect(hmacUserCode('BCDFGHJK', k1)).not.toContain('BCDFGHJK');
  });
});
