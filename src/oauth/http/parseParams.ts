import express, { type RequestHandler } from 'express';
import { InvalidRequest } from '../errors';
import { findForbiddenCharacter } from './findForbiddenCharacter';

/** Largest accepted OAuth request body; real requests are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Flat, single-valued OAuth parameters, parsed from the query or the body. */
export type OAuthParams = Record<string, string>;

declare module 'express-serve-static-core' {
  interface Request {
    oauthParams?: OAuthParams;
  }
}

const formParser = express.urlencoded({ extended: false, limit: MAX_BODY_BYTES });
const jsonParser = express.json({ limit: MAX_BODY_BYTES, strict: true });

function flatten(source: unknown, where: string): OAuthParams {
  if (source === undefined || source === null) return {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw new InvalidRequest(`the ${where} must be a set of named parameters`);
  }
  const out: OAuthParams = {};
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    const nameProblem = findForbiddenCharacter(name);
    if (nameProblem) throw new InvalidRequest(`a parameter name contains ${nameProblem}`);
    if (Array.isArray(value)) {
      // RFC 6749 §3.1: parameters must not be included more than once
      throw new InvalidRequest(`parameter '${name}' is repeated`);
    }
    if (typeof value === 'number' || typeof value === 'boolean') {
      out[name] = String(value);
    } else if (typeof value === 'string') {
      // Issue 12 item 8: a NUL byte must not reach a store (PostgreSQL fails on it).
      const valueProblem = findForbiddenCharacter(value);
      if (valueProblem) throw new InvalidRequest(`parameter '${name}' contains ${valueProblem}`);
      // Empty parameters are treated as omitted (RFC 6749 §3.1)
      if (value !== '') out[name] = value;
    } else if (value !== undefined && value !== null) {
      throw new InvalidRequest(`parameter '${name}' must be a string`);
    }
  }
  return out;
}

/**
 * Parses OAuth parameters `from` the query, or from a POST's form (or, for
 * compatibility, JSON) body. Anything else is refused with `invalid_request`, and
 * so is a parameter that holds a character {@link findForbiddenCharacter}
 * forbids: a control character, a lone surrogate, or bytes that were not UTF-8.
 */
export function parseParams(from: 'query' | 'body'): RequestHandler[] {
  const collect: RequestHandler = (req, _res, next) => {
    if (from === 'query') {
      req.oauthParams = flatten(req.query, 'query');
      next();
      return;
    }
    if (req.method !== 'POST') {
      next();
      return;
    }
    const type = req.headers['content-type'];
    if (!req.is('application/x-www-form-urlencoded') && !req.is('application/json')) {
      throw new InvalidRequest(
        type
          ? `unsupported content type '${type}'; use application/x-www-form-urlencoded`
          : 'request body must be application/x-www-form-urlencoded',
      );
    }
    req.oauthParams = flatten(req.body, 'request body');
    next();
  };
  // A query needs no body parser (issue 15: each is a layer every request walks).
  return from === 'query' ? [collect] : [formParser, jsonParser, collect];
}
