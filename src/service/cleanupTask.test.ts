import { mockServices } from '@backstage/backend-test-utils';
import { metricsServiceMock } from '@backstage/backend-test-utils/alpha';
import { applyDatabaseMigrations } from '../database/migrations';
import { createTestDatabases } from '../testUtils/databases';
import { CLEANUP_TASK_ID, scheduleCleanupTask } from './cleanupTask';

jest.setTimeout(60_000);
const databases = createTestDatabases();

const now = new Date('2026-11-23T12:00:00Z');

// The retention rules per table are tested in database/DbCleanupStore.test.ts
// on every database; this checks the scheduling.
describe('scheduleCleanupTask', () => {
  it('schedules one global task that only one instance runs at a time', async () => {
    const scheduler = mockServices.scheduler.mock();
    const knex = await databases.init('SQLITE_3');
    await applyDatabaseMigrations(knex);
    const metrics = metricsServiceMock.mock();
    await scheduleCleanupTask({
      scheduler,
      knex,
      logger: mockServices.logger.mock(),
      metrics,
      clock: () => now,
    });
    expect(scheduler.scheduleTask).toHaveBeenCalledWith(
      expect.objectContaining({ id: CLEANUP_TASK_ID, scope: 'global', frequency: { minutes: 10 } }),
    );
    await knex('sessions').insert({ sid: 'gone', sess: '{}', expired: new Date(now.getTime() - 1000).toISOString() });
    const task = scheduler.scheduleTask.mock.calls[0][0];
    await task.fn(new AbortController().signal);
    expect(await knex('sessions').count({ n: '*' })).toEqual([{ n: 0 }]);
    // Counted per table, zeros included (docs/metrics.md; the export is in e2e/metrics.test.ts).
    const deleted = metrics.createCounter.mock.results[0].value.add as jest.Mock;
    expect(deleted).toHaveBeenCalledWith(1, { 'db.collection.name': 'sessions' });
    expect(deleted).toHaveBeenCalledWith(0, { 'db.collection.name': 'oidc_refresh_tokens' });
    expect(deleted).toHaveBeenCalledTimes(7);
  });
});
