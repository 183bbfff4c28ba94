import type { Clock } from '../model';

/** The outcome of charging one attempt that may turn out a failure. */
export type AttemptDecision =
  | {
      allowed: true;
      /** This attempt is the one that reached the limit (audit it once, if it fails). */
      reachedLimit: boolean;
    }
  | { allowed: false; retryAfterSeconds: number };

/**
 * Counts failed user-code entries per key (address, user) in a fixed window
 * that starts with the first. RFC 8628 §5.1: with 20^8 codes, a few attempts
 * per minute make guessing a live code hopeless. An attempt is charged before
 * it is checked and refunded if it was not a failure, so concurrent attempts
 * cannot all pass the check before any is counted. Counts in process memory
 * (see LimitStore.ts for the shared store).
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

  /** Counts an attempt for `key`, unless it is at its limit already (then nothing is counted). */
  charge(key: string): AttemptDecision {
    const now = this.#clock().getTime();
    if (this.#failures.size > 50_000) this.#sweep(now);
    let entry = this.#failures.get(key);
    if (!entry || now - entry.windowStart >= this.#windowMs) {
      entry = { windowStart: now, count: 0 };
      this.#failures.set(key, entry);
    }
    if (entry.count >= this.#max) {
      return { allowed: false, retryAfterSeconds: Math.ceil((entry.windowStart + this.#windowMs - now) / 1000) };
    }
    entry.count += 1;
    return { allowed: true, reachedLimit: entry.count === this.#max };
  }

  /** Takes back an attempt that was not a failure. */
  refund(key: string): void {
    const entry = this.#failures.get(key);
    if (!entry) return;
    entry.count -= 1;
    if (entry.count <= 0) this.#failures.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#failures) {
      if (now - entry.windowStart >= this.#windowMs) this.#failures.delete(key);
    }
  }
}
