import { createHash } from 'node:crypto';
import type express from 'express';
import Router from 'express-promise-router';
import type { SigningKeys } from './SigningKeys';

/**
 * Short enough that a key published by another instance reaches shared HTTP
 * caches quickly; clients revalidate cheaply through the ETag.
 */
const JWKS_MAX_AGE_SECONDS = 60;

/** `GET /.well-known/jwks.json`. */
export function createIdentityRouter(options: { keys: SigningKeys }): express.Router {
  const { keys } = options;
  const router = Router();

  router.get('/.well-known/jwks.json', async (_req, res) => {
    const body = JSON.stringify({ keys: await keys.listPublicKeys() });
    const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
    res.setHeader('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    res.setHeader('ETag', etag);
    // express answers 304 itself when If-None-Match matches the ETag set above.
    res.type('application/json').send(body);
  });

  return router;
}
