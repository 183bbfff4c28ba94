import type { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import { CONFIDENTIAL, PUBLIC, codeFlowConfig } from '../fixtures/codeFlowClients';
import { guestUser } from '../fixtures/guestUser';
import { CodeFlow } from './codeFlow';
import { type AuthBackend, startAuthBackend } from './startAuthBackend';

/** What {@link useCodeFlowBackend} sets up; read its fields inside tests. */
export interface CodeFlowSuite {
  knex: Knex;
  backend: AuthBackend;
  confidential: CodeFlow;
  publicClient: CodeFlow;
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start the auth backend with the
 * guest user and the code-flow clients (fixtures/codeFlowClients) on the
 * given database, and stop it afterwards.
 */
export function useCodeFlowBackend(databases: TestDatabases, databaseId: TestDatabaseId): CodeFlowSuite {
  const suite = {} as CodeFlowSuite;
  beforeAll(async () => {
    suite.knex = await databases.init(databaseId);
    suite.backend = await startAuthBackend({
      knex: suite.knex,
      entities: [guestUser()],
      config: codeFlowConfig(),
    });
    suite.confidential = new CodeFlow(suite.backend, CONFIDENTIAL);
    suite.publicClient = new CodeFlow(suite.backend, PUBLIC);
  });
  afterAll(async () => {
    await suite.backend?.stop();
  });
  return suite;
}
