import type { RequestHandler } from 'express';

/** RFC 6749 §5.1: responses carrying tokens or credentials must not be cached. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};
