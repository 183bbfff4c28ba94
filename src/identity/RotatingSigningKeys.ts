import type { LoggerService } from '@backstage/backend-plugin-api';
import { KeyObject, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { KeyStore } from './KeyStore';
import type { SigningKey, SigningKeys } from './SigningKeys';

/** How often {@link keepKeysAhead} asks for each key, signing or not. */
export const KEEP_AHEAD_INTERVAL_MS = 60_000;

/**
 * A rotating key's successor is pre-published when the key is asked for in
 * the minutes before rotation; an instance that signs nothing then (RS256
 * keys, which only some clients ask for, or a quiet replica) would otherwise
 * rotate to a key no verifier has seen listed. Asking every minute keeps each
 * successor published ahead of its first use. Returns the function that stops.
 */
export function keepKeysAhead(keys: SigningKeys[], intervalMs = KEEP_AHEAD_INTERVAL_MS): () => void {
  const timer = setInterval(() => {
    for (const k of keys) k.currentKey().catch(() => undefined);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Options of {@link RotatingSigningKeys.create}. */
export interface RotatingSigningKeysOptions {
  store: KeyStore;
  algorithm: string;
  rotationSeconds: number;
  /** The longest lifetime of any token signed with these keys. */
  maxTokenLifetimeSeconds: number;
  logger: LoggerService;
  now?: () => number;
}

/** Tolerated difference between the database clock and ours. */
const CLOCK_SKEW_SECONDS = 5 * 60;

/**
 * How long before it starts signing the next key is published, so verifiers
 * holding a cached JWKS (max-age 60 s) already know it at rotation.
 */
const PREPUBLISH_SECONDS = 5 * 60;

/**
 * Generates a key pair per process and rotates it every `rotationSeconds`.
 * Only the public half is published to the store; the private half lives in
 * this object only. The next key is published a few minutes before it takes
 * over. A key is listed for `rotationSeconds + maxTokenLifetimeSeconds` (plus
 * pre-publication and clock skew) after it was stored, since the last token it
 * signed may be valid that long; after that it is removed from the store.
 */
export class RotatingSigningKeys implements SigningKeys {
  readonly algorithm: string;
  readonly #store: KeyStore;
  readonly #logger: LoggerService;
  readonly #rotationMs: number;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #prepublishMs: number;
  #current?: { createdAtMs: number; key: Promise<SigningKey> };
  /** The pre-published key and when it was stored (its listing counts from then). */
  #next?: { createdAtMs: number; key: Promise<SigningKey> };

  static create(options: RotatingSigningKeysOptions): RotatingSigningKeys {
    return new RotatingSigningKeys(options);
  }

  private constructor(options: RotatingSigningKeysOptions) {
    this.algorithm = options.algorithm;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#rotationMs = options.rotationSeconds * 1000;
    this.#prepublishMs = Math.min(PREPUBLISH_SECONDS, options.rotationSeconds / 2) * 1000;
    this.#retentionMs =
      (options.rotationSeconds + options.maxTokenLifetimeSeconds + CLOCK_SKEW_SECONDS) * 1000 +
      this.#prepublishMs;
    this.#now = options.now ?? Date.now;
  }

  async currentKey(): Promise<SigningKey> {
    const now = this.#now();
    const current = this.#current;
    const rotateAt = (current?.createdAtMs ?? 0) + this.#rotationMs;
    if (current && now < rotateAt) {
      if (!this.#next && now >= rotateAt - this.#prepublishMs) this.#prepublish();
      return current.key;
    }
    // A key's listing counts from when it was stored, which for a pre-published
    // key may be long before this takeover (nobody asked around rotation
    // time). It may sign only for as long as that listing covers its tokens:
    // its rotation period counts from at most `prepublish` after it was stored,
    // and one already past that period is not used at all.
    const prepublished = this.#next;
    const signsFrom = prepublished && Math.min(now, prepublished.createdAtMs + this.#prepublishMs);
    // One generation at a time: concurrent callers share the same promise.
    const next =
      prepublished && signsFrom !== undefined && now < signsFrom + this.#rotationMs
        ? { createdAtMs: signsFrom, key: prepublished.key }
        : { createdAtMs: now, key: this.#generate() };
    this.#next = undefined;
    this.#current = next;
    try {
      return await next.key;
    } catch (error) {
      if (this.#current === next) this.#current = current;
      throw error;
    }
  }

  async listPublicKeys() {
    // A key being pre-published is listed as soon as it exists.
    await this.#next?.key.catch(() => undefined);
    const now = this.#now();
    const stored = await this.#store.listKeys();
    const live = stored.filter(k => k.createdAt.getTime() + this.#retentionMs > now);
    const expired = stored.filter(k => !live.includes(k)).map(k => k.key.kid);
    if (expired.length > 0) {
      this.#logger.info(`Removing expired signing keys '${expired.join("', '")}'`);
      // Deleting is idempotent, so instances racing here cannot conflict.
      this.#store.removeKeys(expired).catch(error => {
        this.#logger.warn(`Failed to remove expired signing keys: ${error}`);
      });
    }
    return live.map(k => k.key);
  }

  #prepublish() {
    const next = { createdAtMs: this.#now(), key: this.#generate() };
    this.#next = next;
    next.key.catch(error => {
      this.#logger.warn(`Failed to pre-publish the next signing key: ${error}`);
      if (this.#next === next) this.#next = undefined;
    });
  }

  async #generate(): Promise<SigningKey> {
    const { publicKey, privateKey } = await generateKeyPair(this.algorithm);
    const kid = randomUUID();
    const jwk = await exportJWK(publicKey);
    await this.#store.addKey({ ...jwk, kid, alg: this.algorithm, use: 'sig' });
    this.#logger.info(`Created signing key ${kid} (${this.algorithm})`);
    return { kid, alg: this.algorithm, privateKey: KeyObject.from(privateKey) };
  }
}
