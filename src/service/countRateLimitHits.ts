import type { LimitStore } from '../oauth/http/LimitStore';
import type { OAuthMetrics } from '../oauth/metrics';

/**
 * Counts every refusal of the limits in `store` through
 * {@link OAuthMetrics.rateLimited}, without the limiters knowing: a budget
 * that refuses a request (`take` not allowed), and a failure count that
 * refuses an attempt (`charge` not allowed), each count once. Budget names
 * are `<limit>:<scope>` (see LimitStore), so the attributes take the few
 * values the code names, never a key (an address, a client, a user).
 */
export function countRateLimitHits(store: LimitStore, metrics: Pick<OAuthMetrics, 'rateLimited'>): LimitStore {
  const hit = (name: string) => {
    const [limit, scope = ''] = name.split(':');
    metrics.rateLimited({ limit, scope });
  };
  return {
    windowBudget(name, options) {
      const budget = store.windowBudget(name, options);
      return {
        async take(key) {
          const decision = await budget.take(key);
          if (!decision.allowed) hit(name);
          return decision;
        },
      };
    },
    failureCount(name, options) {
      const count = store.failureCount(name, options);
      return {
        async charge(key) {
          const decision = await count.charge(key);
          if (!decision.allowed) hit(name);
          return decision;
        },
      };
    },
    marks: name => store.marks(name),
  };
}
