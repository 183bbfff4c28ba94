import { TestDatabases, type TestDatabaseId } from '@backstage/backend-test-utils';

/**
 * The databases every store and migration test runs on: SQLite always, and
 * PostgreSQL / MySQL when their connection strings are set (see README, and
 * `.ci/run`, which starts a real PostgreSQL). Docker is never used.
 */
export const TEST_DATABASE_IDS: TestDatabaseId[] = ['SQLITE_3', 'POSTGRES_18', 'MYSQL_8'];

export function createTestDatabases(): TestDatabases {
  if (process.env.CI && !process.env.BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING) {
    // CI must exercise PostgreSQL; a missing server would silently skip it.
    throw new Error('CI is set but BACKSTAGE_TEST_DATABASE_POSTGRES18_CONNECTION_STRING is not');
  }
  return TestDatabases.create({ ids: TEST_DATABASE_IDS, disableDocker: true });
}
