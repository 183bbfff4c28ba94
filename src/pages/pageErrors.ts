import type { LoggerService } from '@backstage/backend-plugin-api';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import type { ErrorRequestHandler, Request, Response } from 'express';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  isDatabaseUnavailable,
} from '../oauth/http/isDatabaseUnavailable';
import { html, sendPage } from './html';
import { setPageHeaders } from './pageSecurity';

/** Where an error page leads the person back to. */
export interface BackLink {
  href: string;
  text: string;
}

/** What an error page says. */
export interface ErrorPage {
  status: number;
  title: string;
  message: string;
  back: BackLink;
  /** Sent as Retry-After (RFC 9110 §10.2.3) and said in words. */
  retryAfterSeconds?: number;
}

/**
 * Answers with an HTML error page that keeps the status and offers a way
 * back: a person in a browser should never land on a JSON body.
 */
export function renderErrorPage(res: Response, error: ErrorPage): void {
  setPageHeaders(res);
  if (error.retryAfterSeconds !== undefined) {
    res.setHeader('Retry-After', String(error.retryAfterSeconds));
  }
  sendPage(res, {
    status: error.status,
    title: error.title,
    body: html`
<h1>${error.title}</h1>
<p class="error" id="error-message">${error.message}</p>
<p><a id="back" href="${error.back.href}">${error.back.text}</a></p>`,
  });
}

/** Backstage's mapping of error names to statuses (as its error middleware does). */
const STATUS_BY_NAME: Readonly<Record<string, number>> = {
  [InputError.name]: 400,
  [AuthenticationError.name]: 401,
  [NotAllowedError.name]: 403,
  [NotFoundError.name]: 404,
  [ConflictError.name]: 409,
  [ServiceUnavailableError.name]: 503,
};

const TITLES: Readonly<Record<number, string>> = {
  400: 'Something is wrong with that request',
  401: 'Sign in again',
  403: 'Not allowed',
  404: 'Page not found',
  409: 'Already decided',
  413: 'Something is wrong with that request',
  415: 'Something is wrong with that request',
  429: 'Too many attempts',
};

function statusOf(err: unknown): number {
  const e = err as { statusCode?: unknown; status?: unknown; name?: unknown };
  for (const candidate of [e?.statusCode, e?.status]) {
    if (typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 400 && candidate <= 599) {
      return candidate;
    }
  }
  return (typeof e?.name === 'string' && STATUS_BY_NAME[e.name]) || 500;
}

/** body-parser's errors (a bad charset, a body too large) carry a `type`; their text is not for people. */
function isBodyParserError(err: unknown): boolean {
  return typeof (err as { type?: unknown })?.type === 'string';
}

/**
 * The pages' error middleware, mounted last on the pages router: whatever a
 * page route throws (a failed CSRF check, a token of the wrong kind, a
 * missing page, a bug) becomes an HTML page with its status and a link back
 * from `backLink`. Messages of 4xx errors are written for the person and
 * shown; anything else is logged and shown as a generic message.
 */
export function pageErrorHandler(options: {
  logger: LoggerService;
  backLink(req: Request): BackLink;
}): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const back = options.backLink(req);
    if (isDatabaseUnavailable(err)) {
      options.logger.warn(`${req.method} ${req.path}: database unavailable: ${err}`);
      renderErrorPage(res, {
        status: 503,
        title: 'Temporarily unavailable',
        message: 'The portal cannot complete this right now. Wait a minute and try again.',
        back,
        retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      });
      return;
    }
    const status = statusOf(err);
    if (status >= 500) {
      options.logger.error(`${req.method} ${req.path} failed`, err as Error);
      renderErrorPage(res, {
        status,
        title: 'Something went wrong',
        message: 'The portal could not complete this request. Try again; if it keeps happening, tell your portal administrators.',
        back,
      });
      return;
    }
    const message = isBodyParserError(err)
      ? 'The form could not be read. Go back and submit it again.'
      : String((err as Error)?.message ?? 'The request could not be completed.');
    const retryAfter = (err as { retryAfterSeconds?: unknown })?.retryAfterSeconds;
    renderErrorPage(res, {
      status,
      title: TITLES[status] ?? 'Something went wrong',
      message,
      back,
      ...(typeof retryAfter === 'number' ? { retryAfterSeconds: retryAfter } : {}),
    });
  };
}
