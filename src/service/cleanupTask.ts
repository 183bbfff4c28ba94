import type { LoggerService, SchedulerService } from '@backstage/backend-plugin-api';
import type { MetricsService } from '@backstage/backend-plugin-api/alpha';
import type { Knex } from 'knex';
import { CLEANUP_TABLES, DbCleanupStore } from '../database/DbCleanupStore';
import type { Clock } from '../oauth/model';

/** The scheduler task id; `scope: 'global'` makes one instance at a time run it. */
export const CLEANUP_TASK_ID = 'auth-oidc-provider-cleanup';

/**
 * Codes, authorization sessions and device codes are kept this long after
 * they expire, so a late replay of a code is still recognised as a replay
 * and revokes what the code produced (RFC 6749 §4.1.2).
 */
export const EXPIRED_GRANT_RETENTION_SECONDS = 60 * 60;
/** Dead refresh tokens are kept a day after expiry, for the audit trail. */
export const REFRESH_TOKEN_RETENTION_SECONDS = 24 * 60 * 60;
/** A dynamically registered client never used for this long is deleted. */
export const UNUSED_CLIENT_MAX_AGE_SECONDS = 30 * 24 * 60 * 60;

/** Rows per DELETE; small enough that a batch takes milliseconds. */
export const CLEANUP_BATCH_SIZE = 500;
/** Batches per table per run; the rest waits for the next run. */
export const CLEANUP_MAX_BATCHES = 40;
/** Pause between batches so request traffic gets the connection pool. */
const PAUSE_BETWEEN_BATCHES_MS = 10;

/** Rows deleted per table in one run. */
export type CleanupCounts = Record<
  | 'authorizationCodes'
  | 'authorizationSessions'
  | 'browserSessions'
  | 'refreshTokens'
  | 'deviceCodes'
  | 'grants'
  | 'unusedClients',
  number
>;

/** The table each step deletes from: what the logs and `auth.oidc.cleanup.deleted` name. */
const STEP_TABLES = {
  authorizationCodes: CLEANUP_TABLES.authorizationCodes,
  authorizationSessions: CLEANUP_TABLES.authorizationSessions,
  browserSessions: CLEANUP_TABLES.browserSessions,
  refreshTokens: CLEANUP_TABLES.refreshTokens,
  deviceCodes: CLEANUP_TABLES.deviceCodes,
  grants: CLEANUP_TABLES.grants,
  unusedClients: CLEANUP_TABLES.clients,
} as const satisfies Record<keyof CleanupCounts, string>;

const pause = () => new Promise(resolve => setTimeout(resolve, PAUSE_BETWEEN_BATCHES_MS));

async function inBatches(deleteBatch: () => Promise<number>, batchSize: number): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < CLEANUP_MAX_BATCHES; batch++) {
    const deleted = await deleteBatch();
    total += deleted;
    if (deleted < batchSize) break;
    await pause();
  }
  return total;
}

/**
 * One cleanup pass over every table that exists. A table created by a later
 * migration is skipped until it exists; one failing table does not stop
 * the others.
 */
export async function runCleanup(options: {
  store: DbCleanupStore;
  now: Date;
  logger: LoggerService;
  batchSize?: number;
}): Promise<CleanupCounts> {
  const { store, now, logger } = options;
  const size = options.batchSize ?? CLEANUP_BATCH_SIZE;
  const before = (seconds: number) => new Date(now.getTime() - seconds * 1000);
  const grantCutoff = before(EXPIRED_GRANT_RETENTION_SECONDS);
  const counts: CleanupCounts = {
    authorizationCodes: 0,
    authorizationSessions: 0,
    browserSessions: 0,
    refreshTokens: 0,
    deviceCodes: 0,
    grants: 0,
    unusedClients: 0,
  };

  const step = async (name: keyof CleanupCounts, run: () => Promise<number>) => {
    const table = STEP_TABLES[name];
    try {
      if (await store.hasTable(table)) counts[name] = await run();
    } catch (error) {
      logger.warn(`Cleanup of ${table} failed; will retry on the next run: ${error}`);
    }
  };

  await step('authorizationCodes', () =>
    inBatches(() => store.deleteExpiredAuthorizationCodes(grantCutoff, size), size),
  );
  // Sessions before clients: deleting a session first marks its client used.
  await step('authorizationSessions', () =>
    inBatches(() => store.deleteExpiredAuthorizationSessions(now, grantCutoff, size), size),
  );
  await step('browserSessions', () =>
    inBatches(() => store.deleteExpiredBrowserSessions(now, size), size),
  );
  await step('refreshTokens', () =>
    inBatches(
      () => store.deleteDeadRefreshTokens(now, before(REFRESH_TOKEN_RETENTION_SECONDS), size),
      size,
    ),
  );
  await step('deviceCodes', () =>
    inBatches(() => store.deleteExpiredDeviceCodes(now, grantCutoff, size), size),
  );
  // A grant's expires_at is when its last token expires: its revocation is kept until then.
  await step('grants', () =>
    inBatches(() => store.deleteExpiredGrants(grantCutoff, size), size),
  );
  await step('unusedClients', async () => {
    let deleted = 0;
    let after: string | undefined = '';
    for (let batch = 0; batch < CLEANUP_MAX_BATCHES && after !== undefined; batch++) {
      const result = await store.deleteUnusedDynamicClients(
        before(UNUSED_CLIENT_MAX_AGE_SECONDS),
        size,
        after,
      );
      deleted += result.deleted;
      after = result.scanned < size ? undefined : result.lastClientId;
      if (after !== undefined) await pause();
    }
    return deleted;
  });
  return counts;
}

/**
 * Counts each run's deleted rows in `auth.oidc.cleanup.deleted`, by table
 * (`db.collection.name`); zeros too, so every table's series exists from
 * the first run on.
 */
function countDeletedRows(metrics: MetricsService): (counts: CleanupCounts) => void {
  const deleted = metrics.createCounter('auth.oidc.cleanup.deleted', {
    description: 'Rows the cleanup task deleted, by table',
    unit: '{row}',
  });
  return counts => {
    for (const [step, table] of Object.entries(STEP_TABLES)) {
      deleted.add(counts[step as keyof CleanupCounts], { 'db.collection.name': table });
    }
  };
}

/**
 * Schedules the cleanup on `coreServices.scheduler` every 10 minutes with
 * `scope: 'global'`, so among several instances on one database only one
 * runs it at a time.
 */
export async function scheduleCleanupTask(options: {
  scheduler: SchedulerService;
  knex: Knex;
  logger: LoggerService;
  metrics: MetricsService;
  clock?: Clock;
}): Promise<void> {
  const store = DbCleanupStore.create({ knex: options.knex });
  const clock = options.clock ?? (() => new Date());
  const logger = options.logger.child({ task: CLEANUP_TASK_ID });
  const countDeleted = countDeletedRows(options.metrics);
  await options.scheduler.scheduleTask({
    id: CLEANUP_TASK_ID,
    scope: 'global',
    frequency: { minutes: 10 },
    timeout: { minutes: 5 },
    initialDelay: { minutes: 1 },
    fn: async () => {
      const counts = await runCleanup({ store, now: clock(), logger });
      countDeleted(counts);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (total > 0) logger.info(`Deleted ${total} expired rows`, counts);
    },
  });
}
