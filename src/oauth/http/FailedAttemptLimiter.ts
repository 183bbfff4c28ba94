import type { Clock } from '../model';

/**
 * Counts failed user-code entries per key (address, user) in a fixed window.
 * RFC 8628 §5.1: with 20^8 codes, a few attempts per minute make guessing a
 * live code hopeless. Counts in process memory (see LimitStore.ts for the shared store).
 */
export class FailedAttemptLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #failures = new Map<string, { windowStart: number; count: number }>();

  constructor(options: { maxFailures: number; windowSeconds: number; clock: Clock }) {
    this.#max = options.maxFailures;
    this.#windowMs = options.windowSeconds * 1000;
    this.#clock = options.clock;
  }

  /** Seconds until `keys` may try again, or 0 when none of them is blocked. */
  retryAfterSeconds(keys: string[]): number {
    const now = this.#clock().getTime();
    let wait = 0;
    for (const key of keys) {
      const entry = this.#failures.get(key);
      if (entry && now - entry.windowStart < this.#windowMs && entry.count >= this.#max) {
        wait = Math.max(wait, Math.ceil((entry.windowStart + this.#windowMs - now) / 1000));
      }
    }
    return wait;
  }

  /** Counts a failure; true when it made one of the keys reach the limit (audit it once). */
  recordFailure(keys: string[]): boolean {
    const now = this.#clock().getTime();
    if (this.#failures.size > 50_000) this.#sweep(now);
    let reached = false;
    for (const key of keys) {
      const entry = this.#failures.get(key);
      if (!entry || now - entry.windowStart >= this.#windowMs) {
        this.#failures.set(key, { windowStart: now, count: 1 });
        reached ||= this.#max <= 1;
      } else {
        entry.count += 1;
        reached ||= entry.count === this.#max;
      }
    }
    return reached;
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#failures) {
      if (now - entry.windowStart >= this.#windowMs) this.#failures.delete(key);
    }
  }
}
