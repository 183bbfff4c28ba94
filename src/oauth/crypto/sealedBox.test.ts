import { randomBytes } from 'node:crypto';
import { open, seal, sealedVersion } from './sealedBox';
import { deriveKey } from './secretKeys';

describe('sealed boxes', () => {
  const key = { version: 'v1', key: randomBytes(32) };

  it('opens what it sealed, and the box is URL-safe and opaque', () => {
    const text = JSON.stringify({ state: 'xyz-state-'.repeat(5), redirect: 'http://127.0.0.1/cb?a=1' });
    const box = seal(text, key);
    expect(box).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    // Neither the text nor its base64 shows through.
    expect(box).not.toContain('xyz-state-xyz');
    expect(box).not.toContain(Buffer.from(text).toString('base64url').slice(0, 24));
    expect(sealedVersion(box)).toBe('v1');
    expect(open(box, key.key)).toBe(text);
    // A fresh IV every time.
    expect(seal(text, key)).not.toBe(box);
  });

  it('opens nothing that was changed, cut, sealed with another key, or is not a box', () => {
    const box = seal('hello', key);
    const body = box.slice(3);
    const flipped = `v1.${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
    expect(open(flipped, key.key)).toBeUndefined();
    expect(open(box.slice(0, -2), key.key)).toBeUndefined();
    expect(open(box, randomBytes(32))).toBeUndefined();
    // The version is bound to the box: relabelled, it no longer opens.
    expect(open(`v2.${body}`, key.key)).toBeUndefined();
    for (const junk of ['', 'v1', 'v1.', 'v1.!!!', '.abc', 'v 1.abc', `${'v'.repeat(65)}.abc`]) {
      expect(open(junk, key.key)).toBeUndefined();
    }
    expect(open(box, undefined)).toBeUndefined();
  });

  it('opens only the one spelling it wrote, never another that decodes to the same bytes', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Plaintexts of every length modulo 3, so the body ends with 0, 2 and 4 spare bits.
    for (const text of ['a', 'ab', 'abc', 'abcd']) {
      const box = seal(text, key);
      const variants = [
        ...[...alphabet].map(c => `${box.slice(0, -1)}${c}`),
        ...[...alphabet].map(c => `${box}${c}`),
      ].filter(variant => variant !== box);
      const opened = variants.filter(variant => open(variant, key.key) !== undefined);
      expect(opened).toEqual([]);
      expect(open(box, key.key)).toBe(text);
    }
  });

  it('derives distinct keys for distinct purposes from one secret', () => {
    const secret = randomBytes(32);
    const a = deriveKey(secret, 'purpose-a');
    expect(a).toHaveLength(32);
    expect(deriveKey(secret, 'purpose-a').equals(a)).toBe(true);
    expect(deriveKey(secret, 'purpose-b').equals(a)).toBe(false);
    expect(a.equals(secret)).toBe(false);
  });
});
