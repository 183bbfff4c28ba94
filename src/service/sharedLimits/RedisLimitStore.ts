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

/**
 * Charges one attempt to a failure count unless it is at its limit (ARGV:
 * the limit, the window in ms); answers {1, reached the limit now} or
 * {0, ms until the window ends}.
 */
const CHARGE_ATTEMPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return {0, redis.call('PTTL', KEYS[1])} end
count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if count == tonumber(ARGV[1]) then return {1, 1} end
return {1, 0}
`;

/** Takes an attempt back; the window ends with the last attempt in it. */
const REFUND_ATTEMPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count <= 1 then redis.call('DEL', KEYS[1]) return 0 end
return redis.call('DECR', KEYS[1])
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
      return {
        async charge(key) {
          const [allowed, detail] = numbers(
            await evalScript(CHARGE_ATTEMPT, [counterKey(prefix, name, key)], [
              String(maxFailures),
              String(windowSeconds * 1000),
            ]),
          );
          if (allowed === 1) {
            return {
              allowed: true,
              reachedLimit: detail === 1,
              refund: async () => {
                await evalScript(REFUND_ATTEMPT, [counterKey(prefix, name, key)], []);
              },
            };
          }
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((detail > 0 ? detail : windowSeconds * 1000) / 1000)) };
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
