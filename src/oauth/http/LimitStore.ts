import { FailedAttemptLimiter } from './FailedAttemptLimiter';
import type { SharedMarks } from '../clients/createClientResolver';
import type { Clock } from '../model';
import { TtlCache } from '../TtlCache';
import { type LimitDecision, SlidingWindowLimiter } from './SlidingWindowLimiter';

/** A budget of requests per key in a sliding window (see SlidingWindowLimiter). */
export interface WindowBudget {
  /** Counts one request for `key` unless that would exceed the limit. */
  take(key: string): Promise<LimitDecision>;
}

/** An attempt charged to a failure count, or refused. */
export type ChargedAttempt =
  | {
      allowed: true;
      /** This attempt is the one that reached the limit (audit it once, if it fails). */
      reachedLimit: boolean;
      /** Takes the attempt back, where it was counted, when it was not a failure. */
      refund(): Promise<void>;
    }
  | { allowed: false; retryAfterSeconds: number };

/**
 * Failures per key in a fixed window that starts at the first one (see
 * FailedAttemptLimiter): each attempt is charged before it is checked, and
 * refunded when it was not a failure.
 */
export interface FailureCount {
  /** Counts an attempt for `key`, unless it is at its limit already (then nothing is counted). */
  charge(key: string): Promise<ChargedAttempt>;
}

/** Marks in memory are bounded like the caches they stand beside. */
const MAX_MEMORY_MARKS = 10_000;

/**
 * Where the provider's abuse limits count, and what else one instance
 * decides that the others should respect for a while (marks: a refused
 * metadata document). Each budget has a `name` unique in
 * the plugin (the endpoint and what is counted: `token:address`), so budgets
 * never share counts, whether they live in memory or in a shared store.
 */
export interface LimitStore {
  windowBudget(name: string, options: { limit: number; windowSeconds: number }): WindowBudget;
  failureCount(name: string, options: { maxFailures: number; windowSeconds: number }): FailureCount;
  marks(name: string): SharedMarks;
}

/**
 * Counts in this process's memory: with several instances each enforces its
 * own budgets, so N instances allow N times them. The default, and what a
 * shared store falls back to while it is unreachable.
 */
export function memoryLimitStore(clock: Clock): LimitStore {
  return {
    windowBudget(_name, { limit, windowSeconds }) {
      const limiter = new SlidingWindowLimiter({ limit, windowSeconds, clock });
      return { take: async key => limiter.take(key) };
    },
    failureCount(_name, options) {
      const limiter = new FailedAttemptLimiter({ ...options, clock });
      return {
        async charge(key) {
          const decision = limiter.charge(key);
          return decision.allowed ? { ...decision, refund: async () => limiter.refund(key) } : decision;
        },
      };
    },
    marks() {
      const marks = new TtlCache<true>({ maxEntries: MAX_MEMORY_MARKS, clock });
      return {
        has: async key => marks.get(key) !== undefined,
        remember: async (key, ttlSeconds) => marks.set(key, true, ttlSeconds),
      };
    },
  };
}
