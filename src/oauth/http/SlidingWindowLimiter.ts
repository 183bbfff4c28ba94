import type { Clock } from '../model';

interface Bucket {
  /** Start of the current fixed window, in ms since the epoch. */
  windowStart: number;
  current: number;
  previous: number;
  /** Whether this window's first rejection was already reported. */
  reported: boolean;
}

/** The outcome of one `take()`. */
export type LimitDecision =
  | { allowed: true }
  | { allowed: false; retryAfterSeconds: number; firstInWindow: boolean };

/**
 * How long a key over its limit waits, in whole seconds (at least 1), given
 * the current fixed window's count, the previous one's, and how far (ms) into
 * the current window `now` is. Shared with the store that keeps the same
 * counts in Redis (sharedStore/RedisLimitStore.ts).
 */
export function slidingWindowRetryAfterSeconds(state: {
  current: number;
  previous: number;
  elapsed: number;
  limit: number;
  windowMs: number;
}): number {
  const { current, previous, elapsed, limit, windowMs } = state;
  const untilNextWindow = windowMs - elapsed;
  let waitMs: number;
  if (current + 1 > limit) {
    // Even with the previous window fully decayed this window is full;
    // in the next one, this window becomes "previous" and decays from 100 %.
    const needed = 1 - (limit - 1) / current;
    waitMs = untilNextWindow + Math.max(0, needed) * windowMs;
  } else {
    const needed = 1 - (limit - 1 - current) / previous;
    waitMs = Math.min(untilNextWindow, needed * windowMs - elapsed);
  }
  // Whole milliseconds first, so float noise cannot add a second.
  return Math.max(1, Math.ceil(Math.round(waitMs) / 1000));
}

/** Keys kept before stale ones are swept; bounds memory under address spraying. */
const DEFAULT_MAX_KEYS = 50_000;

/**
 * A sliding-window counter per key: the previous fixed window's count,
 * weighted by how much of it still overlaps the sliding window, plus the
 * current window's count. Constant memory per key, no timers.
 *
 * Counts live in this process only: the memory store of LimitStore.ts, and
 * the fallback of the shared one while Redis is away.
 */
export class SlidingWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: { limit: number; windowSeconds: number; clock: Clock; maxKeys?: number }) {
    this.#limit = options.limit;
    this.#windowMs = options.windowSeconds * 1000;
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Counts one request for `key` unless that would exceed the limit. */
  take(key: string): LimitDecision {
    const now = this.#clock().getTime();
    const bucket = this.#bucketFor(key, now);
    const elapsed = now - bucket.windowStart;
    const overlap = 1 - elapsed / this.#windowMs;
    const estimate = bucket.previous * overlap + bucket.current;
    if (estimate + 1 <= this.#limit) {
      bucket.current += 1;
      return { allowed: true };
    }
    const firstInWindow = !bucket.reported;
    bucket.reported = true;
    const retryAfterSeconds = slidingWindowRetryAfterSeconds({ ...bucket, elapsed, limit: this.#limit, windowMs: this.#windowMs });
    return { allowed: false, retryAfterSeconds, firstInWindow };
  }

  /** Number of keys currently tracked (for tests and diagnostics). */
  get size(): number {
    return this.#buckets.size;
  }

  #bucketFor(key: string, now: number): Bucket {
    const windowStart = now - (now % this.#windowMs);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      this.#makeRoom(windowStart);
      bucket = { windowStart, current: 0, previous: 0, reported: false };
      this.#buckets.set(key, bucket);
    } else if (bucket.windowStart !== windowStart) {
      const adjacent = windowStart - bucket.windowStart === this.#windowMs;
      bucket.previous = adjacent ? bucket.current : 0;
      bucket.current = 0;
      bucket.windowStart = windowStart;
      bucket.reported = false;
    }
    return bucket;
  }

  /** Drops keys idle for over a window; if still full, the oldest keys go. */
  #makeRoom(windowStart: number): void {
    if (this.#buckets.size < this.#maxKeys) return;
    for (const [key, bucket] of this.#buckets) {
      if (windowStart - bucket.windowStart > this.#windowMs) this.#buckets.delete(key);
    }
    // Map iteration follows insertion order, so this evicts the oldest keys;
    // freeing a tenth at once keeps the sweep rare under address spraying.
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(key);
    }
  }
}
