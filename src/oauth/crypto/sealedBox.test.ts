import { randomBytes } from 'node:crypto';
import { open, seal, sealedVersion } from './sealedBox';
import { deriveKey } from './secretKeys';

describe('sealed boxes', () => {
  const key = { version: 'v1', key: randomBytes(32) };

  it('opens what it sealed, and the box is URL-safe and opaque', () => {
    const text = JSON.stringify({ state: 'xyz-state', redirect: 'http://127.0.0.1/cb?a=1' });
    const box = seal(text, key);
    expect(box).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(box).not.toContain('xyz');
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

  it('derives distinct keys for distinct purposes from one secret', () => {
    const secret = randomBytes(32);
    const a = deriveKey(secret, 'purpose-a');
    expect(a).toHaveLength(32);
    expect(deriveKey(secret, 'purpose-a').equals(a)).toBe(true);
    expect(deriveKey(secret, 'purpose-b').equals(a)).toBe(false);
    expect(a.equals(secret)).toBe(false);
  });
});
