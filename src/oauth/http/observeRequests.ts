import type express from 'express';
import { grantTypeAttribute, type OAuthMetrics, OTHER } from '../metrics';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The OAuth error code the response carries, set by whatever answers with it ({@link noteRefusal}). */
    oauthRefusal?: string;
  }
}

/**
 * Marks a response as a refusal with an OAuth error code. Called where an
 * error is answered — JSON (oauthErrorHandler), a page, or a redirect to
 * the client — so each refusal is counted once, however it is sent.
 */
export function noteRefusal(res: express.Response, code: string): void {
  res.locals.oauthRefusal = code;
}

/** `/v1/token` → `token`: the endpoint names of `createOAuthRouter`'s paths; anything else `_OTHER`. */
function endpointOf(path: string, endpoints: ReadonlySet<string>): string {
  const name = /^\/v1\/([a-z_]+)\/?$/i.exec(path)?.[1]?.toLowerCase();
  return name !== undefined && endpoints.has(name) ? name : OTHER;
}

/**
 * Observes every request to the OAuth endpoints once it is answered: a
 * refusal counts in `auth.oidc.refusals` by endpoint and error code, and a
 * token request's time, from its arrival (before the rate limit) to its
 * answer, in `auth.oidc.token.duration` by grant type and error code.
 * Attribute values come from fixed sets: a path or `grant_type` the
 * server does not know is `_OTHER`.
 */
export function observeRequests(metrics: OAuthMetrics, paths: readonly string[]): express.RequestHandler {
  const endpoints = new Set(paths.map(path => path.replace(/^\/v1\//, '')));
  return (req, res, next) => {
    const started = performance.now();
    // Read now: a router mounted on a path rewrites req.url while it runs.
    const endpoint = endpointOf(req.path, endpoints);
    res.once('finish', () => {
      const errorType = res.locals.oauthRefusal;
      if (errorType !== undefined) metrics.refused({ endpoint, errorType });
      if (endpoint === 'token') {
        const grantType = grantTypeAttribute(req.oauthParams?.grant_type ?? (req.body as Record<string, unknown> | undefined)?.grant_type);
        metrics.tokenRequestDuration((performance.now() - started) / 1000, { grantType, errorType });
      }
    });
    next();
  };
}
