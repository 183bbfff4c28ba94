import type { ErrorRequestHandler } from 'express';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { InvalidToken, OAuthError, TooManyRequests } from '../errors';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './isDatabaseUnavailable';
import { noteRefusal } from './observeRequests';

interface BodyParserError {
  type?: string;
  status: number;
  expose?: boolean;
  message: string;
}

/**
 * body-parser's own errors carry a `type`; errors it passes through from
 * zlib (a body whose Content-Encoding lies) only carry http-errors'
 * `status` and `expose`. Both are the client's fault.
 */
function isBodyParserError(err: unknown): err is BodyParserError {
  const e = err as Partial<BodyParserError>;
  return (
    (typeof e?.type === 'string' || e?.expose === true) &&
    typeof e.status === 'number' &&
    e.status >= 400 &&
    e.status < 500
  );
}

function bodyParserDescription(err: BodyParserError): string {
  switch (err.type) {
    case 'entity.too.large':
      return 'request body is too large';
    case 'entity.parse.failed':
      return 'request body is not valid JSON';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'request body encoding is not supported';
    case 'request.aborted':
      return 'request was aborted';
    default:
      return 'request body could not be read';
  }
}

/**
 * Writes RFC 6749 §5.2 error bodies for the OAuth endpoints. An unreachable
 * database becomes 503 `temporarily_unavailable` with Retry-After, so clients
 * back off and retry. Anything else that is not an OAuthError is a bug: it is
 * logged and answered with `server_error`.
 */
export function oauthErrorHandler(logger: LoggerService): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const answer = (status: number, error: string, description: string) => {
      noteRefusal(res, error);
      res.status(status).json({ error, error_description: description });
    };
    if (err instanceof OAuthError) {
      if (err instanceof InvalidToken) {
        // RFC 6750 §3: a protected resource names the Bearer scheme.
        res.setHeader('WWW-Authenticate', `Bearer error="invalid_token", error_description="${err.description.replace(/["\\]/g, '')}"`);
      } else if (err.status === 401) {
        // RFC 6749 §5.2: 401 must carry WWW-Authenticate for the scheme used
        res.setHeader('WWW-Authenticate', `Basic realm="oauth", error="${err.code}"`);
      }
      if (err instanceof TooManyRequests) {
        res.setHeader('Retry-After', String(err.retryAfterSeconds));
      }
      answer(err.status, err.code, err.description);
      return;
    }
    if (isBodyParserError(err)) {
      answer(err.status === 413 || err.status === 415 ? err.status : 400, 'invalid_request', bodyParserDescription(err));
      return;
    }
    if (isDatabaseUnavailable(err)) {
      // An outage, not a bug: one line per request, no stack trace.
      logger.warn(`OAuth endpoint ${req.method} ${req.path}: database unavailable: ${err}`);
      res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      answer(503, 'temporarily_unavailable', 'the authorization server is temporarily unavailable; retry later');
      return;
    }
    logger.error(`OAuth endpoint ${req.method} ${req.path} failed`, err);
    answer(500, 'server_error', 'internal server error');
  };
}
