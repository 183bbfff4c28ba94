import type { ErrorRequestHandler } from 'express';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  isDatabaseUnavailable,
} from '../oauth/http/isDatabaseUnavailable';

/**
 * Error middleware for the Backstage-format routes (sign-in providers,
 * consent API, JWKS, userinfo): an unreachable database becomes a
 * ServiceUnavailableError, which the framework answers with 503 in its usual
 * `{ error, request, response }` body instead of a 500. The driver's message
 * (host, port) goes to the log, not to the client.
 */
export function databaseUnavailableHandler(logger: LoggerService): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (!isDatabaseUnavailable(err) || err instanceof ServiceUnavailableError) {
      next(err);
      return;
    }
    logger.warn(`${req.method} ${req.path}: database unavailable: ${err}`);
    if (!res.headersSent) res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    next(new ServiceUnavailableError('The auth database is temporarily unavailable; retry later'));
  };
}
