import type { LoggerService } from '@backstage/backend-plugin-api';
import { InputError } from '@backstage/errors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InvalidRequest } from '../oauth/errors';
import { isOAuthEndpointPath } from '../oauth/http/createOAuthRouter';
import { findForbiddenCharacter } from '../oauth/http/findForbiddenCharacter';
import { oauthErrorHandler } from '../oauth/http/oauthErrorHandler';

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed escape (`%E0%A4%A`), or bytes that are not UTF-8
    // (`%C0%80` overlong, `%ED%A0%80` a surrogate): decodeURIComponent refuses both.
    return undefined;
  }
}

function problemInPath(path: string): string | undefined {
  for (const segment of path.split('/')) {
    const decoded = decode(segment);
    if (decoded === undefined) return 'the path is not percent-encoded UTF-8';
    const found = findForbiddenCharacter(decoded);
    if (found) return `the path contains ${found}`;
  }
  return undefined;
}

/** The query as application/x-www-form-urlencoded (WHATWG URL §5.1), which is how qs reads it too. */
function problemInQuery(query: string): string | undefined {
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawName = equals < 0 ? pair : pair.slice(0, equals);
    const name = decode(rawName.replace(/\+/g, ' '));
    if (name === undefined) return 'the query is not percent-encoded UTF-8';
    const nameProblem = findForbiddenCharacter(name);
    if (nameProblem) return `a query parameter name contains ${nameProblem}`;
    if (equals < 0) continue;
    const value = decode(pair.slice(equals + 1).replace(/\+/g, ' '));
    if (value === undefined) return `query parameter '${name}' is not percent-encoded UTF-8`;
    const valueProblem = findForbiddenCharacter(value);
    if (valueProblem) return `query parameter '${name}' contains ${valueProblem}`;
  }
  return undefined;
}

/**
 * Printable ASCII, with `%` only in escapes of printable ASCII (`%20`–`%7E`,
 * as in an encoded `redirect_uri`): such a URL decodes, and to nothing
 * forbidden, so most URLs need no closer look (issue 15: decoding each
 * parameter cost an authorization request ~10 µs).
 */
const PLAIN_URL = /^(?:[\x21-\x24\x26-\x7e]|%(?:[2-6][0-9A-Fa-f]|7[0-9A-Ea-e]))*$/;

function problemInUrl(req: Request): string | undefined {
  const url = req.url;
  if (PLAIN_URL.test(url)) return undefined;
  const question = url.indexOf('?');
  return (
    problemInPath(question < 0 ? url : url.slice(0, question)) ??
    (question < 0 ? undefined : problemInQuery(url.slice(question + 1)))
  );
}

/**
 * Answers `problem` with an HTML page when the request is one a person's
 * browser makes (a page, or `/v1/authorize` asked for HTML) and returns
 * true; returns false for the rest, which keep the JSON answer.
 */
export type AnswerBadUrlInHtml = (problem: string, req: Request, res: Response, next: NextFunction) => boolean;

/**
 * Issue 12 item 8: bad bytes are bad requests. Refuses every request to the
 * plugin whose path or query holds a character that
 * {@link findForbiddenCharacter} forbids, or an escape that does not decode
 * to UTF-8, before any router, store or provider module sees it. Express
 * hands routes the path still percent-encoded and decodes `req.params` and
 * `req.query` leniently (qs keeps `%C0%80` as those six characters), so the
 * raw URL is decoded here, strictly, once.
 *
 * What a person opens in a browser gets a page from `answerInHtml` (issue
 * 25 item 9). The OAuth endpoints otherwise answer with an RFC 6749 §5.2
 * `invalid_request` body, written by their own error handler; everything
 * else (the consent API, userinfo, the sign-in providers) with a Backstage
 * InputError. Bodies are checked where they are parsed (parseParams,
 * registration, client authentication, the pages' forms).
 */
export function rejectForbiddenCharacters(
  logger: LoggerService,
  answerInHtml: AnswerBadUrlInHtml = () => false,
): RequestHandler {
  const writeOAuthError = oauthErrorHandler(logger);
  return (req, res, next) => {
    const problem = problemInUrl(req);
    if (problem === undefined) {
      next();
      return;
    }
    if (answerInHtml(problem, req, res, next)) return;
    if (isOAuthEndpointPath(req.path)) {
      writeOAuthError(new InvalidRequest(problem), req, res, next);
      return;
    }
    throw new InputError(problem);
  };
}
