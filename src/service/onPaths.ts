import type express from 'express';

/**
 * Mounts `handler` (a router) for the requests whose path is one of
 * `prefixes` or lies under one, compared as Express compares mount paths:
 * case-insensitively, on whole segments.
 *
 * Express enters every router mounted without a path, walks its whole stack,
 * and hands a request it did not answer on to the next layer only on a later
 * turn of the event loop (`setImmediate`). The OAuth endpoints sat behind six
 * such routers, so each authorization request crossed them all, six event-loop
 * turns, before it reached its own (issue 15). Mounted through this, a router
 * costs other requests one regular-expression test. Like any router, it is
 * passed by while an error is being handled, so error handling is unchanged.
 */
export function onPaths(prefixes: readonly string[], handler: express.RequestHandler): express.RequestHandler {
  if (prefixes.length === 0) throw new Error('onPaths needs at least one path');
  const pattern = new RegExp(
    `^(?:${prefixes.map(prefix => escapeRegExp(prefix.replace(/\/+$/, ''))).join('|')})(?:/|$)`,
    'i',
  );
  return (req, res, next) => {
    if (pattern.test(req.path)) {
      handler(req, res, next);
      return;
    }
    next();
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
