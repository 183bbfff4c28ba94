import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Key versions travel in URLs: letters, digits, `_` and `-` only. */
const VERSION = /^[A-Za-z0-9_-]{1,64}$/;

/** An AES-256 key and the version it is known by. */
export interface SealingKey {
  version: string;
  /** 32 bytes. */
  key: Buffer;
}

/**
 * Encrypts and authenticates `plaintext` (AES-256-GCM, a random 96-bit IV
 * per box) as `<version>.<base64url(iv | ciphertext | tag)>`: URL-safe,
 * opaque to whoever holds it, and useless once changed in any way. The
 * version is bound to the box (additional data), so it cannot be swapped.
 */
export function seal(plaintext: string, key: SealingKey): string {
  if (!VERSION.test(key.version)) throw new Error(`Unusable key version '${key.version}'`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key.key, iv);
  cipher.setAAD(Buffer.from(key.version, 'utf8'));
  const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${key.version}.${body.toString('base64url')}`;
}

/** The version a box was sealed with, or undefined when it is not shaped like a box. */
export function sealedVersion(box: string): string | undefined {
  const dot = box.indexOf('.');
  const version = dot < 0 ? '' : box.slice(0, dot);
  return VERSION.test(version) ? version : undefined;
}

/**
 * Opens a box made by {@link seal} with the key of its version; undefined
 * when it is malformed, sealed with a key we do not have, or altered.
 */
export function open(box: string, key: Buffer | undefined): string | undefined {
  const version = sealedVersion(box);
  if (version === undefined || key === undefined) return undefined;
  const encoded = box.slice(version.length + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const body = Buffer.from(encoded, 'base64url');
  // Node decodes leniently (a last character's unused bits, a stray last
  // character), so several spellings carry the same bytes; only the one
  // seal() wrote is the box, or a box could be decided once per spelling.
  if (body.length < IV_BYTES + TAG_BYTES || body.toString('base64url') !== encoded) return undefined;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, body.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(version, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    // The tag did not match: another key, or a box someone changed.
    return undefined;
  }
}
