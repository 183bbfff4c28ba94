import type { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import type express from 'express';
import session from 'express-session';
import type { Knex } from 'knex';

/** How often expired rows are deleted from `sessions`; deleting is idempotent across instances. */
const CLEANUP_INTERVAL_MS = 15 * 60 * 1000;

/**
 * express-session backed by the `sessions` table (created by our migrations,
 * never by the store), for providers that keep state in a session
 * (`auth.session.secret`).
 */
export function createSessionMiddleware(options: {
  secret: string;
  knex: Knex;
  baseUrl: string;
  lifecycle: LifecycleService;
  logger: LoggerService;
}): express.RequestHandler {
  const store = new ConnectSessionKnexStore({
    knex: options.knex,
    tableName: 'sessions',
    sidFieldName: 'sid',
    createTable: false,
    cleanupInterval: CLEANUP_INTERVAL_MS,
    onDbCleanupError: error => options.logger.warn(`Failed to delete expired sessions: ${error}`),
  });
  options.lifecycle.addShutdownHook(() => clearTimeout(store.nextDbCleanup));
  return session({
    secret: options.secret,
    store,
    saveUninitialized: false,
    resave: false,
    // 'auto' marks the cookie Secure when the request arrived over TLS.
    cookie: { secure: options.baseUrl.startsWith('https') ? 'auto' : false },
  });
}
