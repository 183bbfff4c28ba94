import { createHash } from 'node:crypto';
import type { Clock } from '../../oauth/model';
import type { LimitStore } from '../../oauth/http/LimitStore';
import { slidingWindowRetryAfterSeconds } from '../../oauth/http/SlidingWindowLimiter';

/** The one Redis command the store needs: EVAL (the script, its keys, its arguments). */
export type EvalScript = (script: string, keys: string[], args: string[]) => Promise<unknown>;

/**
 * One sliding-window take, atomic in Redis (the same arithmetic as
 * SlidingWindowLimiter): KEYS = this window's count, the previous window's,
 * and the "already reported" mark; ARGV = limit, the previous window's
 * remaining weight, TTL in ms. Answers {allowed, current, previous, first}.
 */
const TAKE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current + 1 <= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], current + 1, 'PX', ARGV[3])
  return {1, current + 1, previous, 0}
end
local first = redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3])
if first then return {0, current, previous, 1} end
return {0, current, previous, 0}
`;

/** Counts one failure per key (a fixed window from its first failure); answers the counts. */
const RECORD_FAILURES = `
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return counts
`;

/** Each key's failure count and remaining lifetime in ms. */
const READ_FAILURES = `
local result = {}
for i, key in ipairs(KEYS) do
  result[2 * i - 1] = tonumber(redis.call('GET', key) or '0')
  result[2 * i] = redis.call('PTTL', key)
end
return result
`;

const HAS_MARK = `return redis.call('EXISTS', KEYS[1])`;
const SET_MARK = `redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) return 1`;

/**
 * The key for a budget's counter: a hash of the counted key (addresses, user
 * and client ids of any length) in a hash tag, so a window's keys meet on one
 * node of a cluster.
 */
function counterKey(prefix: string, name: string, key: string): string {
  const digest = createHash('sha256').update(key).digest('base64url').slice(0, 22);
  return `${prefix}${name}:{${digest}}`;
}

function numbers(reply: unknown): number[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected reply from Redis: ${typeof reply}`);
  return reply.map(Number);
}

/**
 * The limits counted (and marks kept) in Redis or Valkey, once for every
 * instance that shares it: each take is one script, run atomically by the server, so
 * concurrent requests at several instances cannot both take the last unit.
 * Windows are aligned to the epoch, so instances agree on them as far as
 * their clocks do.
 */
export function redisLimitStore(options: { evalScript: EvalScript; prefix: string; clock: Clock }): LimitStore {
  const { evalScript, prefix, clock } = options;
  return {
    windowBudget(name, { limit, windowSeconds }) {
      const windowMs = windowSeconds * 1000;
      return {
        async take(key) {
          const now = clock().getTime();
          const windowStart = now - (now % windowMs);
          const elapsed = now - windowStart;
          const base = counterKey(prefix, name, key);
          const [allowed, current, previous, first] = numbers(
            await evalScript(
              TAKE,
              [`${base}:${windowStart}`, `${base}:${windowStart - windowMs}`, `${base}:${windowStart}:reported`],
              [String(limit), String(1 - elapsed / windowMs), String(2 * windowMs)],
            ),
          );
          if (allowed === 1) return { allowed: true };
          return {
            allowed: false,
            retryAfterSeconds: slidingWindowRetryAfterSeconds({ current, previous, elapsed, limit, windowMs }),
            firstInWindow: first === 1,
          };
        },
      };
    },
    failureCount(name, { maxFailures, windowSeconds }) {
      const keysOf = (keys: string[]) => keys.map(key => counterKey(prefix, name, key));
      return {
        async retryAfterSeconds(keys) {
          const reply = numbers(await evalScript(READ_FAILURES, keysOf(keys), []));
          let wait = 0;
          for (let i = 0; i < reply.length; i += 2) {
            const [count, ttlMs] = [reply[i], reply[i + 1]];
            if (count >= maxFailures && ttlMs > 0) wait = Math.max(wait, Math.ceil(ttlMs / 1000));
          }
          return wait;
        },
        async recordFailure(keys) {
          const counts = numbers(await evalScript(RECORD_FAILURES, keysOf(keys), [String(windowSeconds * 1000)]));
          return counts.some(count => count === maxFailures);
        },
      };
    },
    marks(name) {
      return {
        has: async key => Number(await evalScript(HAS_MARK, [counterKey(prefix, name, key)], [])) === 1,
        remember: async (key, ttlSeconds) => {
          await evalScript(SET_MARK, [counterKey(prefix, name, key)], [String(ttlSeconds * 1000)]);
        },
      };
    },
  };
}
