import type express from 'express';
import Router from 'express-promise-router';
import { prebuildJson, sendPrebuiltJson, type PrebuiltJson } from '../oauth/http/prebuiltJson';
import { listPublishedKeys } from './listPublishedKeys';
import type { SigningKeys } from './SigningKeys';

/**
 * Short enough that a key published by another instance reaches shared HTTP
 * caches quickly; clients revalidate cheaply through the ETag.
 */
const JWKS_MAX_AGE_SECONDS = 60;

const JWKS_PATH = '/.well-known/jwks.json';

/** Everything {@link createIdentityRouter} serves. */
export const IDENTITY_PATHS = [JWKS_PATH];

/** `GET /.well-known/jwks.json`. */
export function createIdentityRouter(options: { keys: SigningKeys }): express.Router {
  const { keys } = options;
  const router = Router();

  // The last document served: a kid names one key for good, so the same kids
  // make the same document, and it is not serialized and hashed again.
  let last: { kids: string; document?: PrebuiltJson } = { kids: '' };
  router.get(JWKS_PATH, async (req, res) => {
    const listed = await listPublishedKeys(keys);
    const kids = listed.map(key => key.kid).join(' ');
    if (kids !== last.kids || !last.document) {
      last = { kids, document: prebuildJson({ keys: listed }) };
    }
    res.setHeader('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    // A matching If-None-Match gets a 304.
    sendPrebuiltJson(req, res, last.document!);
  });

  return router;
}
