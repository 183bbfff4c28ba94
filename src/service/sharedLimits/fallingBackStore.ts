import type { LoggerService } from '@backstage/backend-plugin-api';
import type { LimitStore } from '../../oauth/http/LimitStore';

/** How long a request waits for the shared store before counting in memory. */
export const SHARED_STORE_TIMEOUT_MS = 500;
/** After a failure, how long requests count in memory before the store is tried again. */
export const SHARED_STORE_RETRY_MS = 1000;

/**
 * Rejects when `promise` has not settled within `ms`. A slow process must not
 * take a healthy store for a lost one: a timer that fires late (the process
 * was busy: a long GC pause, a burst of requests) gives the answer another
 * period, and the rejection waits one more turn of the event loop, so an
 * answer already received still wins.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const arm = (extraPeriods: number) => {
      const armedAt = Date.now();
      timer = setTimeout(() => {
        if (extraPeriods > 0 && Date.now() - armedAt > ms * 1.2) arm(extraPeriods - 1);
        else setImmediate(() => reject(new Error(`no answer within ${ms} ms`)));
      }, ms);
    };
    arm(1);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs each count in the shared store, and in this instance's memory while
 * the store fails: sign-ins go on, each instance then enforcing the budgets
 * on its own. One warning when the store is lost, one line when it is back.
 * While it is lost no request waits for it: one probe (`ping`, which counts
 * nothing) at a time, every {@link SHARED_STORE_RETRY_MS}, finds out when it
 * answers again.
 */
export function fallingBackStore(options: {
  shared: LimitStore;
  local: LimitStore;
  ping: () => Promise<unknown>;
  logger: LoggerService;
  where: string;
  now?: () => number;
}): LimitStore & { lose(error: unknown): void } {
  const { shared, local, ping, logger, where } = options;
  const now = options.now ?? Date.now;
  let lost = false;
  let probing = false;
  let retryAt = 0;

  function lose(error: unknown) {
    if (!lost) {
      lost = true;
      logger.warn(
        `Rate limits count per instance: the shared store at ${where} failed (${error}); each instance enforces its own budgets until it answers again`,
      );
    }
    retryAt = now() + SHARED_STORE_RETRY_MS;
  }

  function probe() {
    if (probing || now() < retryAt) return;
    probing = true;
    withTimeout(ping(), SHARED_STORE_TIMEOUT_MS)
      .then(
        () => {
          if (!lost) return;
          lost = false;
          logger.info(`Rate limits are shared again through ${where}`);
        },
        () => {
          retryAt = now() + SHARED_STORE_RETRY_MS;
        },
      )
      .finally(() => {
        probing = false;
      });
  }

  async function run<T>(sharedRun: () => Promise<T>, localRun: () => Promise<T>): Promise<T> {
    if (lost) {
      probe();
      return localRun();
    }
    try {
      return await withTimeout(sharedRun(), SHARED_STORE_TIMEOUT_MS);
    } catch (error) {
      lose(error);
      return localRun();
    }
  }

  return {
    lose,
    windowBudget(name, budget) {
      const [s, l] = [shared.windowBudget(name, budget), local.windowBudget(name, budget)];
      return { take: key => run(() => s.take(key), () => l.take(key)) };
    },
    failureCount(name, budget) {
      const [s, l] = [shared.failureCount(name, budget), local.failureCount(name, budget)];
      return {
        async charge(key) {
          const decision = await run(() => s.charge(key), () => l.charge(key));
          if (!decision.allowed) return decision;
          // Refunded where it was charged; a refund the store loses costs the user one attempt.
          return { ...decision, refund: () => decision.refund().catch(() => undefined) };
        },
      };
    },
    marks(name) {
      const [s, l] = [shared.marks(name), local.marks(name)];
      return {
        has: key => run(() => s.has(key), () => l.has(key)),
        // Kept in memory too: the mark outlives a loss of the store.
        remember: async (key, ttlSeconds) => {
          await l.remember(key, ttlSeconds);
          await run(() => s.remember(key, ttlSeconds), async () => undefined);
        },
      };
    },
  };
}
